// AuthdCore: placeholder until the module lands.
