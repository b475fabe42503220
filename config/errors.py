"""The one error hierarchy. Messages name the field, the expected and the actual value."""


class FacestreamError(Exception):
    """Base of every error facestream raises on purpose."""


class ConfigError(FacestreamError):
    """A setting or a command-line value is unusable."""


class MessageError(FacestreamError, ValueError):
    """A bus message does not match the schema (undecodable, wrong version, bad field)."""


class ImageError(FacestreamError):
    """A photo or a frame cannot be decoded."""


class SourceError(FacestreamError):
    """A video source cannot be opened or read."""


class ModelError(FacestreamError):
    """A model or its weights cannot be loaded."""


class StackError(FacestreamError):
    """The embedded Redis or Milvus cannot be started or reached."""
