using Mono.Unix.Native;
using UFork.Runtime;
using UFork.Spawning;
using UFork.Worker;

namespace UFork.Tests.Support;

/// <summary>
/// The test worker program started by the test itself, with no arbiter: the UFORK_* environment a
/// worker gets, a real pipe on its heartbeat fd (read by <see cref="Heartbeats"/>), a lifeline whose
/// write end the test holds (so that the worker dies with the test run), and the given listening sockets
/// at fds 3... Disposing it kills it and fails the test if it is still there.
/// </summary>
public sealed class StandaloneWorker : IAsyncDisposable
{
    private readonly int _lifeline;
    private readonly List<string> _lines = [];
    private readonly ChangeSignal _printed = new();
    private readonly Task _readingOutput;

    private StandaloneWorker(ChildProcess process, HeartbeatRecorder heartbeats, int lifeline)
    {
        Process = process;
        Heartbeats = heartbeats;
        _lifeline = lifeline;
        _readingOutput = Task.WhenAll(ReadLinesAsync(process.Stdout), ReadLinesAsync(process.Stderr));
    }

    public ChildProcess Process { get; }

    public HeartbeatRecorder Heartbeats { get; }

    /// <summary>What it printed so far, stdout and stderr, for failure messages.</summary>
    public string Output { get { lock (_lines) return string.Join('\n', _lines); } }

    public static async Task<StandaloneWorker> StartAsync(TimeSpan interval, IReadOnlyList<int> listenFds, params string[] arguments)
    {
        var program = WorkerCommand.Program("dotnet", [Path.Combine(AppContext.BaseDirectory, "UFork.TestWorker.dll"), .. arguments]);
        var heartbeat = Libc.Pipe();
        var lifeline = Libc.Pipe();
        var environment = new Dictionary<string, string>
        {
            [WorkerEnvironment.WorkerId] = "0",
            [WorkerEnvironment.HeartbeatFd] = (3 + listenFds.Count).ToString(),
            [WorkerEnvironment.HeartbeatIntervalMs] = ((int)interval.TotalMilliseconds).ToString(),
            [WorkerEnvironment.LifelineFd] = (4 + listenFds.Count).ToString(),
            [WorkerEnvironment.ShutdownGraceMs] = "2000",
        };
        if (listenFds.Count > 0)
            environment[WorkerEnvironment.ListenFds] = listenFds.Count.ToString();
        ChildProcess process;
        try
        {
            process = await ProcessReactor.Shared.SpawnAsync(new ProcessSpec(
                program.FileName, program.Arguments, environment, [.. listenFds, heartbeat.Write, lifeline.Read]));
        }
        catch
        {
            Libc.close(heartbeat.Read);
            Libc.close(lifeline.Write);
            throw;
        }
        finally
        {
            Libc.close(heartbeat.Write);
            Libc.close(lifeline.Read);
        }
        return new StandaloneWorker(process, new HeartbeatRecorder(ChildProcess.ReadEnd(heartbeat.Read)), lifeline.Write);
    }

    public static Task<StandaloneWorker> StartAsync(TimeSpan interval, params string[] arguments) =>
        StartAsync(interval, [], arguments);

    /// <summary>True as soon as it has printed <paramref name="line"/>; false after <paramref name="within"/>.</summary>
    public Task<bool> PrintedAsync(string line, TimeSpan within) =>
        _printed.UntilAsync(() => { lock (_lines) return _lines.Contains(line); }, within);

    /// <summary>Everything a failure message needs: the heartbeats and the output.</summary>
    public string Describe() => $"pid {Process.Pid}: {Heartbeats}; output:\n{Output}";

    public async ValueTask DisposeAsync()
    {
        Process.Signal(Signum.SIGKILL);
        Libc.close(_lifeline);
        await Process.Exited.WaitAsync(TimeSpan.FromSeconds(10));
        await _readingOutput.WaitAsync(TimeSpan.FromSeconds(10));
        await ProcessWatch.AssertAllGoneAsync([Process.Pid], TimeSpan.FromSeconds(5));
    }

    private async Task ReadLinesAsync(Stream stream)
    {
        using var reader = new StreamReader(stream);
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_lines)
                _lines.Add(line);
            _printed.Notify();
        }
    }
}
