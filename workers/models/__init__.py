"""The models: MTCNN detector, FaceNet and dlib embedders, and the crops between them."""
