"""The small core every capability stands on: configs, the model, the checkpoint format, run folders,
results, files, seeds, pixels, pictures and the device."""
