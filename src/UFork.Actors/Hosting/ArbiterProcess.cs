using UFork.Configuration;
using UFork.Control;
using UFork.Daemon;
using UFork.Output;

namespace UFork.Hosting;

/// <summary>
/// What an arbiter holds for the process it runs in (the ufork command, or <see cref="Arbiter.RunAsync"/>):
/// the pidfile, the control socket, and its output, the terminal or the rotating log file. All are
/// claimed in <see cref="Open"/>, before any worker starts, so that a second start fails with one line
/// and disturbs nothing; <see cref="Attach"/> then puts them to work for the started arbiter, and in a
/// daemon reports to the waiting parent once the workers have started.
/// </summary>
public sealed class ArbiterProcess : IAsyncDisposable
{
    // How much longer than the grace period a `stop` through the control socket may take to answer.
    private static readonly TimeSpan StopAnswerMargin = TimeSpan.FromSeconds(5);

    private readonly UForkSettings _settings;
    private readonly PidFile? _pidFile;
    private readonly ControlServer? _control;

    private ArbiterProcess(UForkSettings settings, PidFile? pidFile, ControlServer? control, IOutputSink output)
    {
        _settings = settings;
        _pidFile = pidFile;
        _control = control;
        Output = output;
    }

    /// <summary>Where the arbiter's lines and its workers' lines go: give it to the arbiter's options.</summary>
    public IOutputSink Output { get; }

    /// <exception cref="ArbiterStartException">Another arbiter holds the pidfile or control socket, or a file cannot be opened.</exception>
    public static ArbiterProcess Open(UForkSettings settings)
    {
        PidFile? pidFile = null;
        ControlServer? control = null;
        try
        {
            pidFile = settings.Daemon.PidFile is { } path ? PidFile.Claim(path) : null;
            control = ControlSocketPath.For(settings.Daemon) is { } socket ? ControlServer.Bind(socket) : null;
            return new ArbiterProcess(settings, pidFile, control, OpenOutput(settings.Log));
        }
        catch
        {
            control?.DisposeAsync().AsTask().Wait();
            pidFile?.Dispose();
            throw;
        }
    }

    public void Attach(Arbiter arbiter)
    {
        var log = new OutputWriter(Output); // queued with the workers' lines: a stuck terminal holds up no timer or client
        _pidFile?.KeepWritten(log);
        _control?.Serve(new CommandExecutor(arbiter.Actor, _settings.ShutdownGrace + StopAnswerMargin), log);
        var doors = new[]
        {
            _pidFile is null ? null : $"pidfile {_pidFile.Path}",
            _control is null ? null : $"control socket {_control.Path}",
        }.OfType<string>().ToList();
        if (doors.Count > 0)
            log.WriteLine($"[ufork] arbiter pid {Environment.ProcessId}{(Daemonizer.IsDaemon ? " (daemon)" : "")}: {string.Join(", ", doors)}");
        if (Daemonizer.IsDaemon)
            ReportReadyOnceStarted(arbiter);
    }

    private void ReportReadyOnceStarted(Arbiter arbiter)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        arbiter.System.ActorOf(StartWatcher.Props(arbiter.Actor, _settings.Workers, started), "daemon-start-watcher");
        started.Task.ContinueWith(_ => Daemonizer.ReportReady(), TaskScheduler.Default);
    }

    private static IOutputSink OpenOutput(LogSettings log)
    {
        if (log.File is null)
            return new TaggedLineWriter(Console.OpenStandardOutput());
        try
        {
            return new RotatingFileSink(log.File, log.MaxSize, log.Files);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArbiterStartException($"cannot open log file {log.File}: {e.Message}");
        }
    }

    /// <summary>Closes the control socket and removes it and the pidfile, then closes the output (bounded: <see cref="OutputWriter.Close"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_control is not null)
            await _control.DisposeAsync();
        _pidFile?.Dispose();
        OutputWriter.Close(Output);
    }
}
