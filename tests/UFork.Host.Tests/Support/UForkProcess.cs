using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Mono.Unix.Native;

namespace UFork.Tests.Support;

/// <summary>
/// The ufork command (or another arbiter program) run as a user runs it: a real process with its
/// stdout and stderr read line by line. It remembers the pid of every worker the arbiter reports or
/// tags, and on dispose kills what is left and fails if any of those processes survived.
/// </summary>
public sealed partial class UForkProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly List<string> _rawStdout = [];
    private readonly List<string> _stderr = [];
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _waiters = [];
    private readonly ConcurrentDictionary<int, bool> _workerPids = new();
    private readonly Lock _lock = new();

    private UForkProcess(ProcessStartInfo start)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + start.FileName);
        _process.OutputDataReceived += (_, e) => Record(e.Data, _stdout, _rawStdout);
        _process.ErrorDataReceived += (_, e) => Record(e.Data, _stderr, null);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static string UForkDll => Path.Combine(AppContext.BaseDirectory, "ufork.dll");
    public static string TestWorkerDll => Path.Combine(AppContext.BaseDirectory, "UFork.TestWorker.dll");

    /// <summary>Starts <c>ufork</c> with these arguments.</summary>
    public static UForkProcess Start(params string[] arguments) => StartDotnet(UForkDll, arguments);

    /// <summary>Starts <c>ufork</c> through a program that execs it, such as <c>setpriv --reuid=65534 --</c>.</summary>
    public static UForkProcess StartVia(string[] launcher, params string[] arguments)
    {
        var start = new ProcessStartInfo(launcher[0]);
        foreach (var word in launcher[1..].Append("dotnet").Append(UForkDll).Concat(arguments))
            start.ArgumentList.Add(word);
        return new UForkProcess(start);
    }

    /// <summary>Starts a .NET program (a dll beside the tests) with these arguments.</summary>
    public static UForkProcess StartDotnet(string dll, string[] arguments, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet") { ArgumentList = { dll } };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
            start.Environment[key] = value;
        return new UForkProcess(start);
    }

    public int Pid => _process.Id;
    public IReadOnlyCollection<int> WorkerPids => _workerPids.Keys.ToList();

    /// <summary>Lines on stdout without the time each starts with (<see cref="LogLines.WithoutTime"/>).</summary>
    public IReadOnlyList<string> Stdout
    {
        get { lock (_lock) return _stdout.ToList(); }
    }

    /// <summary>Lines on stdout as printed, times and all.</summary>
    public IReadOnlyList<string> RawStdout
    {
        get { lock (_lock) return _rawStdout.ToList(); }
    }

    public IReadOnlyList<string> Stderr
    {
        get { lock (_lock) return _stderr.ToList(); }
    }

    /// <summary>The first line on stdout or stderr, already printed or still to come, that matches.</summary>
    public Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan within)
    {
        lock (_lock)
        {
            if (_stdout.Concat(_stderr).FirstOrDefault(match) is { } seen)
                return Task.FromResult(seen);
            var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, found));
            return found.Task.WaitAsync(within);
        }
    }

    /// <summary>Waits until <paramref name="count"/> distinct workers have reported starting; returns their pids.</summary>
    public async Task<IReadOnlyList<int>> WaitForWorkersAsync(int count, TimeSpan within)
    {
        var pids = await Eventually.WaitAsync(() => WorkerPids, p => p.Count >= count, within);
        if (pids.Count < count)
            throw new TimeoutException($"{pids.Count} of {count} workers started; output:\n{string.Join('\n', Stdout.Concat(Stderr))}");
        return pids.ToList();
    }

    /// <summary>Writes to the program's stdin, a pipe.</summary>
    public async Task TypeAsync(string text)
    {
        await _process.StandardInput.WriteAsync(text);
        await _process.StandardInput.FlushAsync();
    }

    public void Signal(Signum signal) => Syscall.kill(Pid, signal);

    /// <summary>The exit code, or a TimeoutException if it does not exit in time.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan within)
    {
        await _process.WaitForExitAsync().WaitAsync(within);
        _process.WaitForExit(); // drains the redirected streams
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        // The arbiter is dead by now, so its workers' zombies are PID 1's to reap: dead is what counts.
        await ProcessWatch.AssertAllDeadAsync(_workerPids.Keys.Append(Pid), TimeSpan.FromSeconds(5));
        _process.Dispose();
    }

    private void Record(string? raw, List<string> lines, List<string>? rawLines)
    {
        if (raw is null)
            return;
        var line = LogLines.WithoutTime(raw);
        foreach (Match match in WorkerPid().Matches(line))
            _workerPids[int.Parse(match.Groups["pid"].Value)] = true;
        lock (_lock)
        {
            lines.Add(line);
            rawLines?.Add(raw);
            foreach (var waiter in _waiters.Where(w => w.Match(line)).ToList())
            {
                _waiters.Remove(waiter);
                waiter.Found.TrySetResult(line);
            }
        }
    }

    // "[ufork] w0: started pid 4711" and "[w0 4711] text" both name a worker's pid.
    [GeneratedRegex(@"^(\[ufork\] w\d+: started pid (?<pid>\d+)|\[w\d+ (?<pid>\d+)( err)?\] )")]
    private static partial Regex WorkerPid();
}
