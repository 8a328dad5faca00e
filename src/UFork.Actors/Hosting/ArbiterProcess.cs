using UFork.Configuration;
using UFork.Control;
using UFork.Daemon;
using UFork.Metrics;
using UFork.Output;

namespace UFork.Hosting;

/// <summary>
/// What an arbiter holds for the process it runs in (the ufork command, or <see cref="Arbiter.RunAsync"/>):
/// the pidfile, the control socket, and its output, the terminal or the rotating log file. All are
/// claimed in <see cref="Open"/>, before any worker starts, so that a second start fails with one line
/// and disturbs nothing; <see cref="Attach"/> then puts them to work for the started arbiter, and in a
/// daemon reports to the waiting parent once every worker is ready.
/// </summary>
public sealed class ArbiterProcess : IAsyncDisposable
{
    private readonly UForkSettings _settings;
    private readonly PidFile? _pidFile;
    private readonly ControlServer? _control;
    private readonly MetricsEndpoint? _metrics;

    private ArbiterProcess(UForkSettings settings, PidFile? pidFile, ControlServer? control, MetricsEndpoint? metrics, IOutputSink output)
    {
        _settings = settings;
        _pidFile = pidFile;
        _control = control;
        _metrics = metrics;
        Output = output;
    }

    /// <summary>Where the arbiter's lines and its workers' lines go: give it to the arbiter's options.</summary>
    public IOutputSink Output { get; }

    /// <exception cref="ArbiterStartException">Another arbiter holds the pidfile or control socket, or a file cannot be opened.</exception>
    public static ArbiterProcess Open(UForkSettings settings)
    {
        PidFile? pidFile = null;
        ControlServer? control = null;
        MetricsEndpoint? metrics = null;
        try
        {
            pidFile = settings.Daemon.PidFile is { } path ? PidFile.Claim(path) : null;
            control = ControlSocketPath.For(settings.Daemon) is { } socket ? ControlServer.Bind(socket) : null;
            metrics = settings.Metrics.Listen is { } listen ? MetricsEndpoint.Bind(listen) : null;
            return new ArbiterProcess(settings, pidFile, control, metrics, OpenOutput(settings.Log));
        }
        catch
        {
            metrics?.DisposeAsync().AsTask().Wait();
            control?.DisposeAsync().AsTask().Wait();
            pidFile?.Dispose();
            throw;
        }
    }

    public void Attach(Arbiter arbiter)
    {
        var log = new OutputWriter(Output); // queued with the workers' lines: a stuck terminal holds up no timer or client
        _pidFile?.KeepWritten(log);
        _control?.Serve(new CommandExecutor(arbiter.Actor, _settings), log);
        _metrics?.Serve(arbiter.System.ActorOf(MetricsCollector.Props(arbiter.Actor), "ufork-metrics"));
        var doors = new[]
        {
            _pidFile is null ? null : $"pidfile {_pidFile.Path}",
            _control is null ? null : $"control socket {_control.Path}",
            _metrics is null ? null : $"metrics {_metrics.Url}",
        }.OfType<string>().ToList();
        log.WriteLine(doors.Count > 0
            ? $"[ufork] arbiter pid {Environment.ProcessId}{(Daemonizer.IsDaemon ? " (daemon)" : "")}: {string.Join(", ", doors)}"
            : $"[ufork] arbiter pid {Environment.ProcessId}: no control socket; steer it with signals, or start it with --control PATH or --pidfile PATH to use ufork ctl");
        if (Daemonizer.IsDaemon)
            ReportToParentOnceReady(arbiter);
    }

    /// <summary>The waiting parent hears "ready" once every worker is; or, if the arbiter halts first, why.</summary>
    private void ReportToParentOnceReady(Arbiter arbiter)
    {
        var ready = arbiter.WhenAllReadyAsync();
        ready.ContinueWith(_ => Daemonizer.ReportReady(), TaskScheduler.Default);
        arbiter.Exit.ContinueWith(exit =>
        {
            if (!ready.IsCompleted && exit.Result.Reason is { } reason)
                Console.Error.WriteLine($"ufork: {reason}");
        }, TaskContinuationOptions.OnlyOnRanToCompletion);
    }

    private static IOutputSink OpenOutput(LogSettings log)
    {
        if (log.File is null)
            return new TaggedLineWriter(Console.OpenStandardOutput(), LineFormat.ForStandardOutput(log.Format));
        try
        {
            return new RotatingFileSink(log.File, log.MaxSize, log.Files, log.Format);
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
        if (_metrics is not null)
            await _metrics.DisposeAsync();
        _pidFile?.Dispose();
        OutputWriter.Close(Output);
    }
}
