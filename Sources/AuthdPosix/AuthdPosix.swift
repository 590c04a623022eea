// AuthdPosix: placeholder until the module lands.
