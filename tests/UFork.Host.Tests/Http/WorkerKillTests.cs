using System.Collections.Concurrent;
using System.Net.Sockets;
using Mono.Unix.Native;
using Xunit;

namespace UFork.Host.Tests.Http;

[Collection(HttpProcesses.Name)]
public sealed class WorkerKillTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(30);
    private const int Clients = 16;

    [Fact]
    public async Task A_worker_killed_under_load_costs_only_its_own_connections_and_is_replaced()
    {
        await using var ufork = ArbiterUnderTest.Start("serve", "-w", "2", "--bind", "127.0.0.1:0", "--no-access-log");
        var port = await ufork.ListeningPortAsync();
        var pids = (await HelloWorld.UntilWorkersAnswerAsync(port, 2, Within)).ToList();
        var (victim, survivor) = (pids[0], pids[1]);

        using var load = new KeepAliveLoad(port, await ConnectionsToEachAsync(port, pids, Clients / 2));
        Assert.True(await BoundedPoll.UntilAsync(() => load.Answers(victim) > 0 && load.Answers(survivor) > 0, Within),
            "the load did not reach both workers");
        var survivorAnswersBeforeKill = load.Answers(survivor);

        Syscall.kill(victim, Signum.SIGKILL);
        var replacement = await ufork.StartedWorkerAsync(ufork.SlotOf(victim), victim);
        await UntilAnsweredByAsync(port, replacement);
        await load.StopAsync(Within);

        Assert.True(load.Answers(survivor) > survivorAnswersBeforeKill, "the surviving worker stopped serving");
        Assert.NotEmpty(load.Failures);
        Assert.All(load.Failures, failure => Assert.True(failure.Pid is null || failure.Pid == victim,
            $"a connection to pid {failure.Pid}, not the killed {victim}, failed: {failure.Error}"));
        Assert.InRange(load.Failures.Count, 1, Clients);
    }

    /// <summary>
    /// Opens connections until each worker holds <paramref name="each"/> of them. A worker that wakes first
    /// can drain the whole accept queue, so a burst of connections may all land on one worker.
    /// </summary>
    private static async Task<List<(KeepAliveClient Connection, int Pid)>> ConnectionsToEachAsync(int port, IReadOnlyList<int> workers, int each)
    {
        using var cancel = new CancellationTokenSource(Within);
        var kept = new List<(KeepAliveClient Connection, int Pid)>();
        while (workers.Any(w => kept.Count(k => k.Pid == w) < each))
        {
            var connection = await KeepAliveClient.ConnectAsync(port, cancel.Token);
            var pid = HelloWorld.PidIn(await connection.GetAsync("/", cancel.Token));
            if (kept.Count(k => k.Pid == pid) < each)
                kept.Add((connection, pid));
            else
                connection.Dispose();
        }
        return kept;
    }

    /// <summary>New connections until <paramref name="pid"/> accepts one: the kernel picks the worker.</summary>
    private static async Task UntilAnsweredByAsync(int port, int pid)
    {
        using var cancel = new CancellationTokenSource(Within);
        while (HelloWorld.PidIn(await KeepAliveClient.GetOnceAsync(port, "/", cancel.Token)) != pid)
        {
        }
    }

    /// <summary>
    /// Clients that each keep one connection busy with requests and, when it breaks, record which worker
    /// it belonged to (null if it broke before its first answer) and open another. Each starts on a
    /// connection already open to a known worker.
    /// </summary>
    private sealed class KeepAliveLoad : IDisposable
    {
        private readonly ConcurrentDictionary<int, int> _answers = new();
        private readonly ConcurrentQueue<(int? Pid, string Error)> _failures = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _clients;

        public KeepAliveLoad(int port, IEnumerable<(KeepAliveClient Connection, int Pid)> connections) =>
            _clients = Task.WhenAll(connections.Select(c => Task.Run(() => RunClientAsync(port, c.Connection, c.Pid))));

        public IReadOnlyCollection<(int? Pid, string Error)> Failures => _failures.ToList();

        public int Answers(int pid) => _answers.GetValueOrDefault(pid);

        public async Task StopAsync(TimeSpan within)
        {
            await _stop.CancelAsync();
            await _clients.WaitAsync(within);
        }

        private async Task RunClientAsync(int port, KeepAliveClient? first, int? firstPid)
        {
            while (!_stop.IsCancellationRequested)
            {
                int? pid = firstPid;
                try
                {
                    using var connection = first ?? await KeepAliveClient.ConnectAsync(port, _stop.Token);
                    (first, firstPid) = (null, null);
                    while (true)
                    {
                        pid = HelloWorld.PidIn(await connection.GetAsync("/", _stop.Token));
                        _answers.AddOrUpdate(pid.Value, 1, (_, n) => n + 1);
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (e is IOException or SocketException)
                {
                    _failures.Enqueue((pid, e.Message));
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _stop.Dispose();
        }
    }
}
