namespace UFork.Worker;

/// <summary>A listening socket the arbiter owns and every worker inherits, with its LISTEN_FDNAMES name.</summary>
public sealed record ListenSocket(int Fd, string Name);
