"""facestream: real-time face recognition for video, from camera to named tracks."""
