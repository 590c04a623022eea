// AuthdOAuth: placeholder until the module lands.
