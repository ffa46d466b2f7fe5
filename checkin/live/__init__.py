"""Live views: committed events handed to the streams in order (broadcast, and relay across instances), and the
big screen's snapshot."""
