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
    /// How long, at most, a worker told to stop is a lame duck before Kestrel stops: it accepts no more
    /// connections (the other workers take them from the shared socket) and answers every request with
    /// <c>Connection: close</c>, so that each keep-alive client gets its answer and reconnects instead of
    /// having its connection closed under a request it is sending. It ends early once no connection is
    /// left. Default: a tenth of the arbiter's grace period (UFORK_SHUTDOWN_GRACE_MS), at most 1 s.
    /// </summary>
    public TimeSpan? LameDuckPeriod { get; init; }

    /// <summary>
    /// How long requests in flight may take to finish once Kestrel stops, after the lame-duck period;
    /// past it their connections are aborted. Default: what the arbiter's grace period
    /// (UFORK_SHUTDOWN_GRACE_MS) leaves after the lame-duck period and a margin of at most 1 s, so the
    /// worker exits by itself before it would be SIGKILLed.
    /// </summary>
    public TimeSpan? DrainTimeout { get; init; }

    /// <summary>
    /// The listen(2) backlog. Kestrel calls listen(2) again on every socket it is handed, which resets the
    /// backlog of the socket all workers share. Default: the arbiter's (UFORK_LISTEN_BACKLOG).
    /// </summary>
    public int? Backlog { get; init; }
}
