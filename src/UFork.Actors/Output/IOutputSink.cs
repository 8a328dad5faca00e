namespace UFork.Output;

public enum OutputStream
{
    Stdout,
    Stderr,
}

/// <summary>
/// Where echoed worker lines go: the arbiter's stdout, or a rotating log file when daemonized.
/// Called from many WorkerActors at once; a call returns once the lines are written, which is how a
/// flooding worker is slowed down instead of growing the arbiter's memory.
/// </summary>
public interface IOutputSink
{
    /// <param name="lines">Whole lines without their newline; the buffers are reused once this returns.</param>
    void WriteLines(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines);

    /// <summary>A line of the arbiter's own, already formatted.</summary>
    void WriteLine(string line);
}
