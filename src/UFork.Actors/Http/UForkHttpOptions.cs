namespace UFork.Http;

/// <summary>How <see cref="UForkHttp.ServeAsync"/> runs Kestrel in a worker.</summary>
public sealed record UForkHttpOptions
{
    /// <summary>
    /// One line per request on stdout (<c>127.0.0.1 "GET / HTTP/1.1" 200 0.08ms</c>), which the arbiter
    /// echoes tagged with the worker. Lines are written in batches of whole lines every 100 ms, so the log
    /// costs little; off, it costs nothing, which is how the benchmarks run.
    /// </summary>
    public bool AccessLog { get; init; } = true;

    /// <summary>Threads that run handlers mapped with <see cref="SynchronousEndpoints.MapSynchronous"/>.</summary>
    public int SynchronousThreads { get; init; } = 16;

    /// <summary>
    /// How long requests in flight may take to finish after the worker is told to stop; past it their
    /// connections are aborted. Default: a little less than the arbiter's grace period
    /// (UFORK_SHUTDOWN_GRACE_MS), so the worker exits by itself before it would be SIGKILLed.
    /// </summary>
    public TimeSpan? DrainTimeout { get; init; }

    /// <summary>
    /// The listen(2) backlog. Kestrel calls listen(2) again on every socket it is handed, which resets the
    /// backlog of the socket all workers share. Default: the arbiter's (UFORK_LISTEN_BACKLOG).
    /// </summary>
    public int? Backlog { get; init; }
}
