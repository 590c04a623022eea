// AuthdClient: placeholder until the module lands.
