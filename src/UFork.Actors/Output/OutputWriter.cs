namespace UFork.Output;

/// <summary>
/// Writes the workers' lines into the arbiter's <see cref="IOutputSink"/> away from the actors that keep
/// time: a pipe reader hands it a batch and waits for the returned task before reading again, so a stuck
/// terminal or log slows only the worker that floods it, never a stop, a heartbeat or <c>status</c>.
/// </summary>
internal sealed class OutputWriter(IOutputSink sink)
{
    public IOutputSink Sink { get; } = sink;

    /// <summary>Completes once <paramref name="lines"/> are written (their buffers may be reused then).</summary>
    public Task WriteLinesAsync(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines, CancellationToken cancel)
    {
        // Contract skeleton: the dedicated writer thread replaces this synchronous call.
        Sink.WriteLines(slot, pid, stream, lines);
        return Task.CompletedTask;
    }
}
