"""Everything that consumes from the bus: schema, codec, bus, runtime and the four stages."""
