namespace UFork.Output;

/// <summary>An output sink writing to a file that logrotate may move away: SIGUSR1 makes it reopen the path.</summary>
public interface IReopenableOutput
{
    string Path { get; }

    /// <summary>Closes the current file and opens <see cref="Path"/> again, creating it if it was moved away.</summary>
    void Reopen();
}
