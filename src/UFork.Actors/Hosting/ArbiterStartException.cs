namespace UFork.Hosting;

/// <summary>
/// An arbiter cannot start in this process: another one holds the pidfile or control socket, or a file
/// it needs cannot be written. Worded as one line for the person who started it; nothing was started.
/// </summary>
public sealed class ArbiterStartException(string message) : Exception(message);
