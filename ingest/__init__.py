"""The only producer of frames: video sources, pacing, JPEG encode, publish."""
