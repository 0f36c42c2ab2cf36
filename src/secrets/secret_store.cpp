// Placeholder until the secret store lands.
