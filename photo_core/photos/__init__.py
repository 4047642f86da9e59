"""The photo itself: the JPEG reader and the preparation of a photo under a policy. Pure."""
