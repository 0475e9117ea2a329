"""Drawing from z: `dcgan sample` and `dcgan interpolate`."""
