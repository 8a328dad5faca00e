namespace UFork.Runtime;

/// <summary>
/// What the post-fork function learns about the worker it runs in, and how it tells the arbiter how it is.
/// A worker is <em>starting</em> until it calls <see cref="Ready"/>: the arbiter waits for that before it
/// starts the next worker, finishes a rolling restart or reports a daemon started, and kills a worker that
/// has not called it within <c>ufork.heartbeat.start-timeout</c>. <c>UForkHttp.ServeAsync</c> (UFork.Http)
/// calls it once Kestrel accepts on the inherited sockets.
/// </summary>
public sealed class WorkerContext
{
    private readonly HeartbeatPipe? _heartbeats;
    private volatile Func<bool>? _healthProbe;

    /// <summary>A context whose <see cref="Ready"/> tells nobody: for serving outside an arbiter.</summary>
    public WorkerContext(int workerId, int pid, IReadOnlyList<int> listenFds)
        : this(workerId, pid, listenFds, heartbeats: null)
    {
    }

    internal WorkerContext(int workerId, int pid, IReadOnlyList<int> listenFds, HeartbeatPipe? heartbeats)
    {
        WorkerId = workerId;
        Pid = pid;
        ListenFds = listenFds;
        _heartbeats = heartbeats;
    }

    /// <summary>The slot, 0..N-1, stable across restarts.</summary>
    public int WorkerId { get; }

    public int Pid { get; }

    /// <summary>The listening sockets the arbiter bound, at fds 3.. (<c>LISTEN_FDS</c>).</summary>
    public IReadOnlyList<int> ListenFds { get; }

    /// <summary>
    /// Consulted on a thread-pool thread before every heartbeat: false, an exception, or no return at
    /// all (a deadlock) withholds the beat, and a worker silent for <c>ufork.heartbeat.timeout</c> is
    /// killed and replaced. Keep it cheap: it runs every <c>ufork.heartbeat.interval</c>. Null (the
    /// default) means a running thread pool is proof enough.
    /// </summary>
    public Func<bool>? HealthProbe
    {
        get => _healthProbe;
        set => _healthProbe = value;
    }

    /// <summary>
    /// Tells the arbiter this worker is ready to do its job (writes <see cref="WorkerEnvironment.ReadyMessage"/>
    /// on the heartbeat fd). Only the first call writes; any thread may call it.
    /// </summary>
    public void Ready() => _heartbeats?.SendReady();
}
