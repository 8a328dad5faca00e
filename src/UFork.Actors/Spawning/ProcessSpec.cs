namespace UFork.Spawning;

/// <summary>
/// What to start: an executable (an absolute path), its arguments, environment additions, and the
/// parent's file descriptors to hand over at fixed numbers 3, 4, 5... (the systemd LISTEN_FDS layout).
/// The child leads a new process group in the parent's session, or, with <see cref="NewSession"/>, a new
/// session without a terminal (a daemon).
/// </summary>
public sealed record ProcessSpec(
    string FileName,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string> Environment,
    IReadOnlyList<int> InheritedFds,
    bool NewSession = false);
