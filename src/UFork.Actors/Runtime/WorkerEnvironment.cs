namespace UFork.Runtime;

/// <summary>
/// The environment an arbiter gives each worker; the whole protocol a worker in any language needs.
/// <list type="bullet">
/// <item><c>UFORK_WORKER_ID</c>: the slot, 0..N-1, stable across restarts (ufork's cur_worker_id()).</item>
/// <item><c>UFORK_HEARTBEAT_FD</c>: write one byte per heartbeat to this fd; write <c>ready\n</c> (<see cref="ReadyMessage"/>)
/// once, when the worker is ready to do its job (a server: listening). Every write counts as a beat.</item>
/// <item><c>UFORK_HEARTBEAT_INTERVAL_MS</c>: how often to beat.</item>
/// <item><c>UFORK_METRICS_INTERVAL_MS</c>: how often a .NET worker sends its instruments on the heartbeat fd, as a line
/// <c>metrics {json}\n</c> (<see cref="Metrics.MetricsSnapshot"/>); absent when the arbiter wants none.</item>
/// <item><c>UFORK_LIFELINE_FD</c>: reads EOF when the arbiter dies; exit then.</item>
/// <item><c>UFORK_MEMORY_LIMIT</c>: bytes of resident memory past which a worker should exit.</item>
/// <item><c>UFORK_SHUTDOWN_GRACE_MS</c>: how long after SIGTERM the worker may take to finish before SIGKILL.</item>
/// <item><c>LISTEN_FDS</c>, <c>LISTEN_FDNAMES</c>, <c>LISTEN_PID</c>: shared sockets at fds 3.., as systemd does.</item>
/// <item><c>UFORK_LISTEN_BACKLOG</c>: the backlog those sockets listen with; a server that calls listen(2) again
/// on an inherited socket (Kestrel does) must pass the same number, or it shrinks every worker's queue.</item>
/// </list>
/// </summary>
public static class WorkerEnvironment
{
    public const string WorkerId = "UFORK_WORKER_ID";
    public const string HeartbeatFd = "UFORK_HEARTBEAT_FD";
    public const string HeartbeatIntervalMs = "UFORK_HEARTBEAT_INTERVAL_MS";

    /// <summary>Written once on the heartbeat fd: the worker is ready (what the start gate, rolling restarts and --daemon wait for).</summary>
    public const string ReadyMessage = "ready\n";
    public const string MetricsIntervalMs = "UFORK_METRICS_INTERVAL_MS";
    public const string LifelineFd = "UFORK_LIFELINE_FD";
    public const string MemoryLimit = "UFORK_MEMORY_LIMIT";
    public const string ShutdownGraceMs = "UFORK_SHUTDOWN_GRACE_MS";
    public const string ListenBacklog = "UFORK_LISTEN_BACKLOG";
    public const string ListenFds = "LISTEN_FDS";
    public const string ListenFdNames = "LISTEN_FDNAMES";
    public const string ListenPid = "LISTEN_PID";

    /// <summary>True inside a worker process started by an arbiter.</summary>
    public static bool IsWorker => Environment.GetEnvironmentVariable(WorkerId) is not null;

    /// <summary>This worker's slot, or null outside a worker.</summary>
    public static int? CurrentWorkerId => ReadInt(WorkerId);

    internal static int? ReadInt(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out var value) ? value : null;
}
