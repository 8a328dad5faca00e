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
    bool NewSession = false)
{
    /// <summary>
    /// What the child reads as stdin. Only tests change it: a FIFO no one writes to holds a child inside
    /// posix_spawn, before exec, as a job-control stop would.
    /// </summary>
    internal string StdinPath { get; init; } = "/dev/null";
}
