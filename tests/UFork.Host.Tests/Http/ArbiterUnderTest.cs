using System.Diagnostics;
using System.Text.RegularExpressions;
using Mono.Unix.Native;

namespace UFork.Host.Tests.Http;

/// <summary>
/// The ufork command run as a user runs it (<c>dotnet ufork.dll ...</c>), its output read line by line.
/// It tracks the arbiter and every worker pid the arbiter reports or tags, and on dispose stops the
/// arbiter (SIGTERM, then SIGKILL) and fails the test if any of those processes is still there.
/// </summary>
internal sealed partial class ArbiterUnderTest : IAsyncDisposable
{
    private static readonly TimeSpan StopWithin = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan GoneWithin = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan StartWithin = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly Lock _lock = new();
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly List<(Regex Pattern, TaskCompletionSource<Match> Found)> _waiters = [];
    private readonly TrackedPids _pids = new();

    private ArbiterUnderTest(ProcessStartInfo start)
    {
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start ufork");
        _pids.Track(_process.Id);
        _process.OutputDataReceived += (_, e) => Record(e.Data, _stdout);
        _process.ErrorDataReceived += (_, e) => Record(e.Data, _stderr);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static ArbiterUnderTest Start(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "ufork.dll") },
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        return new ArbiterUnderTest(start);
    }

    public int Pid => _process.Id;

    public IReadOnlyList<string> Stdout
    {
        get { lock (_lock) return _stdout.ToList(); }
    }

    public IReadOnlyList<string> Stderr
    {
        get { lock (_lock) return _stderr.ToList(); }
    }

    /// <summary>The first stdout line, already written or still to come, that matches; fails the test after <paramref name="within"/>.</summary>
    public async Task<Match> WaitForLineAsync(Regex pattern, TimeSpan within)
    {
        var found = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            var match = _stdout.Select(line => pattern.Match(line)).FirstOrDefault(m => m.Success);
            if (match is not null)
                return match;
            _waiters.Add((pattern, found));
        }
        try
        {
            return await found.Task.WaitAsync(within);
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException(
                $"no line matching {pattern} within {within.TotalSeconds} s; stdout:\n{string.Join('\n', Stdout)}\nstderr:\n{string.Join('\n', Stderr)}");
        }
    }

    /// <summary>The port of the first <c>[ufork] listening on 127.0.0.1:PORT</c> line (for --bind 127.0.0.1:0).</summary>
    public async Task<int> ListeningPortAsync() =>
        int.Parse((await WaitForLineAsync(ListeningLine(), StartWithin)).Groups[1].Value);

    /// <summary>The pid of a worker started in <paramref name="slot"/> other than <paramref name="except"/>.</summary>
    public async Task<int> StartedWorkerAsync(int slot, params int[] except)
    {
        var pattern = new Regex($@"^\[ufork\] w{slot}: started pid (?!(?:{string.Join('|', except.Append(0))})\b)(\d+)$");
        return int.Parse((await WaitForLineAsync(pattern, StartWithin)).Groups[1].Value);
    }

    /// <summary>The slot the arbiter said it started <paramref name="pid"/> in.</summary>
    public int SlotOf(int pid) =>
        Stdout.Select(line => Regex.Match(line, $@"^\[ufork\] w(\d+): started pid {pid}$"))
            .Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value))
            .Single();

    public void Signal(Signum signal) => Syscall.kill(_process.Id, signal);

    public async Task<int> WaitForExitAsync(TimeSpan within)
    {
        await _process.WaitForExitAsync().WaitAsync(within);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        string? failure = null;
        if (!_process.HasExited)
        {
            _pids.TrackChildrenOf(_process.Id);
            Signal(Signum.SIGTERM);
            try
            {
                await _process.WaitForExitAsync().WaitAsync(StopWithin);
            }
            catch (TimeoutException)
            {
                failure = $"the arbiter did not stop within {StopWithin.TotalSeconds} s of SIGTERM";
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
        await _pids.AssertAllGoneAsync(GoneWithin);
        if (failure is not null)
            throw new Xunit.Sdk.XunitException(failure);
    }

    private void Record(string? line, List<string> lines)
    {
        if (line is null)
            return;
        line = UFork.Tests.Support.LogLines.WithoutTime(line);
        List<(Match, TaskCompletionSource<Match>)> satisfied = [];
        lock (_lock)
        {
            lines.Add(line);
            if (WorkerPidIn(line) is { } pid)
                _pids.Track(pid);
            if (!ReferenceEquals(lines, _stdout))
                return;
            foreach (var waiter in _waiters.ToList())
            {
                var match = waiter.Pattern.Match(line);
                if (!match.Success)
                    continue;
                _waiters.Remove(waiter);
                satisfied.Add((match, waiter.Found));
            }
        }
        foreach (var (match, found) in satisfied)
            found.TrySetResult(match);
    }

    private static int? WorkerPidIn(string line)
    {
        var match = WorkerPidLine().Match(line);
        return match.Success ? int.Parse(match.Groups["started"].Success ? match.Groups["started"].Value : match.Groups["tagged"].Value) : null;
    }

    [GeneratedRegex(@"^\[ufork\] listening on 127\.0\.0\.1:(\d+) ")]
    private static partial Regex ListeningLine();

    [GeneratedRegex(@"^(?:\[ufork\] w\d+: started pid (?<started>\d+)$|\[w\d+ (?<tagged>\d+)(?: err)?\] )")]
    private static partial Regex WorkerPidLine();
}
