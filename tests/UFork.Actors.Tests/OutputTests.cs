using System.Diagnostics;
using System.IO.Pipes;
using System.Text;
using Mono.Unix.Native;
using UFork.Hosting;
using UFork.Output;
using UFork.Supervision;
using UFork.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace UFork.Tests;

public sealed class OutputTests(ITestOutputHelper output) : ArbiterTestKit(output)
{
    [Fact]
    public void Every_line_is_echoed_in_order_and_before_the_death_is_reported()
    {
        var deaths = Listen<DeadWorker>();
        StartArbiter(Shell("i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; echo oops >&2; printf 'tail without newline'; exit 0"),
            Settings());
        var death = deaths.ExpectMsg<DeadWorker>(Patience);

        var lines = Echoed.Lines.Where(l => l.Pid == death.Pid).ToList();
        var stdout = lines.Where(l => l.Stream == OutputStream.Stdout).Select(l => l.Text).ToList();
        Assert.Equal(Enumerable.Range(0, 2000).Select(i => $"line {i}").Append("tail without newline"), stdout);
        Assert.Equal(["oops"], lines.Where(l => l.Stream == OutputStream.Stderr).Select(l => l.Text));
    }

    [Fact]
    public void A_line_longer_than_64_KiB_arrives_in_pieces_without_loss()
    {
        var deaths = Listen<DeadWorker>();
        StartArbiter(Shell("head -c 200000 /dev/zero | tr '\\0' x; echo; echo after; exit 0"), Settings());
        var death = deaths.ExpectMsg<DeadWorker>(Patience);

        var lines = Echoed.Lines.Where(l => l.Pid == death.Pid).ToList();
        Assert.All(lines, l => Assert.True(l.Bytes <= 64 * 1024));
        Assert.Equal(200000, lines.Where(l => l.Text.StartsWith('x')).Sum(l => l.Bytes));
        Assert.Equal("after", lines.Last().Text);
    }

    [Fact]
    public void Bytes_that_are_not_UTF8_are_shown_escaped()
    {
        using var buffer = new MemoryStream();
        var writer = new TaggedLineWriter(buffer);

        writer.WriteLines(2, 4711, OutputStream.Stdout, [new byte[] { (byte)'o', (byte)'k', 0xff, 0xc3, 0xa9 }]);
        writer.WriteLines(2, 4711, OutputStream.Stderr, [Encoding.UTF8.GetBytes("ça va")]);

        Assert.Equal(["[w2 4711] ok\\xffé", "[w2 4711 err] ça va", ""],
            Encoding.UTF8.GetString(buffer.ToArray()).Split('\n').Select(LogLines.WithoutTime));
    }

    [Fact]
    public async Task A_worker_that_floods_output_is_held_back_by_its_pipe_while_the_echo_is_slow()
    {
        var gate = new ManualResetEventSlim(false);
        var sink = new GatedSink(Echoed, gate);
        var starts = Listen<WorkerStarted>();
        var deaths = Listen<DeadWorker>();
        StartArbiter(UFork.Worker.WorkerCommand.Program("python3",
            ["-c", "import sys\nfor i in range(100000): sys.stdout.write('%099d\\n' % i)"]), Settings(), sink);
        var pid = starts.ExpectMsg<WorkerStarted>(Patience).Pid;

        // While the echo is stuck, what the worker manages to write stops growing, far below its 10 MB.
        var previous = -1L;
        var written = await Eventually.WaitAsync(() =>
        {
            var (now, before) = (OutputStall.WrittenBytes(pid), previous);
            previous = now;
            return (Bytes: now, Stalled: now > 0 && now == before);
        }, w => w.Stalled, Patience);
        Assert.True(written.Stalled);
        Assert.InRange(written.Bytes, 1, 1 << 20);

        gate.Set();
        var death = deaths.ExpectMsg<DeadWorker>(Patience);
        Assert.Equal(0, death.Status.Code);
        Assert.Equal(100000, Echoed.Lines.Count(l => l.Pid == pid));
    }

    [Fact]
    public async Task With_its_output_a_pipe_nobody_reads_the_arbiter_answers_status_and_stops_every_worker_within_the_grace()
    {
        using var pipe = new AnonymousPipeServerStream(PipeDirection.Out); // its read end is never read
        var stuck = new TaggedLineWriter(pipe);
        var settings = Settings(workers: 2) with { ShutdownGrace = TimeSpan.FromSeconds(2) };
        // In an ActorSystem of its own, so that its log lines go through the SinkLogger into the same pipe.
        var arbiter = Arbiter.Start(new ArbiterOptions(Shell("exec yes flood"), settings, stuck, []));
        var pids = new List<int>();
        try
        {
            var started = await Eventually.WaitAsync(() => arbiter.Workers, w => w.Count == 2 && w.All(s => s.Pid is not null), Patience);
            Assert.True(started.Count == 2 && started.All(w => w.Pid is not null),
                $"status: {string.Join(", ", started.Select(w => $"w{w.Slot} {w.State} pid {w.Pid}"))}");
            pids.AddRange(started.Select(w => w.Pid!.Value));
            var stalled = await Eventually.WaitAsync(() => pids.Sum(OutputStall.WrittenBytes), new OutputStall().Check, Patience);
            Assert.InRange(stalled, 1, 8 << 20); // held back by their pipes: the echo is stuck

            var asking = Stopwatch.StartNew();
            var status = await arbiter.ListWorkersAsync();
            var answeredIn = asking.Elapsed;
            var stopping = Stopwatch.StartNew();
            await arbiter.StopAsync().WaitAsync(settings.ShutdownGrace + Patience);
            var stoppedIn = stopping.Elapsed;

            Assert.Equal(pids.Order(), status.Select(w => w.Pid!.Value).Order());
            Assert.InRange(answeredIn, TimeSpan.Zero, TimeSpan.FromSeconds(2));
            // Within the grace (the workers die of SIGTERM at once), plus the ActorSystem's termination.
            Assert.InRange(stoppedIn, TimeSpan.Zero, settings.ShutdownGrace + TimeSpan.FromSeconds(1));
            await ProcessWatch.AssertAllGoneAsync(pids, TimeSpan.FromSeconds(1));

            // Read at last, the pipe holds whole lines only, and says how many were given up.
            using var reader = new StreamReader(new AnonymousPipeClientStream(PipeDirection.In, pipe.ClientSafePipeHandle));
            using var patience = new CancellationTokenSource(Patience);
            var read = new List<string>();
            while (await reader.ReadLineAsync(patience.Token) is { } line && !line.Contains("lines were dropped"))
                read.Add(LogLines.WithoutTime(line));
            Assert.All(read, line => Assert.Matches(@"^(\[w[01] \d+\] flood|\[ufork\] .*)$", line));
            Assert.Contains(read, line => line.EndsWith("] flood"));
        }
        finally
        {
            foreach (var pid in pids)
                Syscall.kill(-pid, Signum.SIGKILL); // their groups: a failed stop leaves nothing behind
            pipe.DisposeLocalCopyOfClientHandle(); // the writer's stuck write now fails (EPIPE) and returns
            stuck.Dispose();
        }
    }

    /// <summary>An echo that hangs until the test opens the gate.</summary>
    private sealed class GatedSink(IOutputSink inner, ManualResetEventSlim gate) : IOutputSink
    {
        public void WriteLines(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines)
        {
            gate.Wait();
            inner.WriteLines(slot, pid, stream, lines);
        }

        public void WriteLine(string line) => inner.WriteLine(line);
    }
}
