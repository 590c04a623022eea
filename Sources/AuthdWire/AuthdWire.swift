// AuthdWire: placeholder until the module lands.
