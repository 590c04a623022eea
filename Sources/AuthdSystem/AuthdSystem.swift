// AuthdSystem: placeholder until the module lands.
