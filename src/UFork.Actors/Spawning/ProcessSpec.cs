namespace UFork.Spawning;

/// <summary>
/// What to start: an executable (an absolute path), its arguments, environment additions, and the
/// parent's file descriptors to hand over at fixed numbers 3, 4, 5... (the systemd LISTEN_FDS layout).
/// </summary>
public sealed record ProcessSpec(
    string FileName,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string> Environment,
    IReadOnlyList<int> InheritedFds);
