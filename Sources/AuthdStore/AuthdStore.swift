// AuthdStore: placeholder until the module lands.
