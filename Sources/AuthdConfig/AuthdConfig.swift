// AuthdConfig: placeholder until the module lands.
