"""Measuring sample quality: FID, KID, precision and recall in Inception or domain feature space."""
