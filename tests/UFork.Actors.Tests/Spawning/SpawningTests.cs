using System.Text.RegularExpressions;
using Mono.Unix.Native;
using UFork.Configuration;
using UFork.Spawning;
using UFork.Tests.Support;
using UFork.Worker;
using Xunit;

namespace UFork.Tests.Spawning;

[Collection(SpawningCollection.Name)]
public sealed class SpawningTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private static ProcessSpec Command(string file, params string[] arguments) =>
        new(file, arguments, new Dictionary<string, string>(), []);

    private static ProcessSpec Shell(string script) => Command("/bin/sh", "-c", script);

    [Theory]
    [InlineData(2, 0)] // the stdout pipe fits, the stderr pipe does not
    [InlineData(4, 1)] // both pipes fit, the copy of an inherited fd that sits in the target range does not
    public void A_spawn_that_runs_out_of_fds_closes_every_fd_it_opened(int free, int inherited)
    {
        var spec = Command("/bin/true") with { InheritedFds = Enumerable.Range(0, inherited).ToList() };
        var before = DescriptorSqueeze.OpenDescriptors();
        IOException? failure;
        using (DescriptorSqueeze.LeavingFree(free))
            failure = Record.Exception(() => PosixSpawner.Spawn(spec, openPidfd: true)) as IOException;

        Assert.NotNull(failure);
        Assert.Contains("too many open files (EMFILE)", failure.Message);
        Assert.Equal(before, DescriptorSqueeze.OpenDescriptors());
    }

    [Fact]
    public async Task A_child_whose_exit_cannot_be_watched_is_killed_and_reaped()
    {
        var before = DescriptorSqueeze.OpenDescriptors();
        IOException? failure;
        using (DescriptorSqueeze.LeavingFree(4)) // both pipes, then no fd for the pidfd
            failure = Record.Exception(() => PosixSpawner.Spawn(Command("/bin/sleep", "300"), openPidfd: true)) as IOException;

        Assert.NotNull(failure);
        Assert.Contains("pidfd_open: too many open files (EMFILE)", failure.Message);
        var pid = int.Parse(Regex.Match(failure.Message, @"pid (\d+)").Groups[1].Value);
        await ProcessWatch.AssertAllGoneAsync([pid], Patience); // killed, and reaped: not even a zombie
        Assert.Equal(before, DescriptorSqueeze.OpenDescriptors());
    }

    [Fact]
    public async Task Spawns_stop_short_of_the_fd_limit_with_one_clear_line_and_start_again_later()
    {
        var reactor = new ProcessReactor(TimeSpan.FromSeconds(5), DescriptorBudget.DefaultReserve);
        var before = DescriptorSqueeze.OpenDescriptors();
        Task<ChildProcess> refused;
        using (DescriptorSqueeze.LeavingFree(DescriptorBudget.DefaultReserve - 4))
        {
            refused = reactor.SpawnAsync(Command("/bin/true"));
            // Waiting without a timer or a new thread: either would need an fd.
            Assert.Throws<AggregateException>(() => refused.Wait(Patience));
        }

        var failure = Assert.IsType<IOException>(refused.Exception!.InnerException);
        Assert.StartsWith("too many open files (EMFILE): ", failure.Message);
        Assert.DoesNotContain('\n', failure.Message);
        Assert.Equal(before, DescriptorSqueeze.OpenDescriptors());
        var child = await reactor.SpawnAsync(Command("/bin/true")).WaitAsync(Patience);
        Assert.Equal(0, (await child.Exited.WaitAsync(Patience)).Code);
    }

    [Fact]
    public async Task A_failed_worker_launch_leaves_no_fd_open()
    {
        var command = new WorkerCommand("/nonexistent/ufork-worker", [], IsUForkRuntime: true);
        await WorkerLauncher.LaunchAsync(command, 0, UForkSettings.Default, []).ContinueWith(_ => { }); // the lifeline, made once
        var before = DescriptorSqueeze.OpenDescriptors();

        var failure = await Assert.ThrowsAsync<IOException>(() => WorkerLauncher.LaunchAsync(command, 0, UForkSettings.Default, []));

        Assert.Contains("no such file or directory (ENOENT)", failure.Message);
        Assert.Equal(before, DescriptorSqueeze.OpenDescriptors());
    }

    [Fact]
    public async Task A_poll_error_stops_the_reactor_with_its_reason_instead_of_spinning()
    {
        var reactor = new ProcessReactor(TimeSpan.FromSeconds(5), fdReserve: 0);
        var children = new[]
        {
            await reactor.SpawnAsync(Command("/bin/sleep", "300")).WaitAsync(Patience),
            await reactor.SpawnAsync(Command("/bin/sleep", "300")).WaitAsync(Patience),
        };
        try
        {
            Assert.True(Libc.getrlimit(Libc.RLIMIT_NOFILE, out var saved) == 0);
            try
            {
                // poll(2) refuses more fds than RLIMIT_NOFILE (EINVAL); the reactor polls three.
                Assert.True(SetLimit(saved with { Current = 2 }) == 0);
                _ = reactor.SpawnAsync(Command("/bin/true")); // wakes it up to poll again
                Assert.Throws<AggregateException>(() => children[0].Exited.Wait(Patience)); // no timer, no new thread
            }
            finally
            {
                SetLimit(saved);
            }

            var fault = Assert.IsType<IOException>(children[0].Exited.Exception!.InnerException);
            Assert.Contains("poll(3 fds): invalid argument (EINVAL)", fault.Message);
            Assert.Same(fault, reactor.Fault);
            var refused = await Assert.ThrowsAsync<IOException>(() => reactor.SpawnAsync(Command("/bin/true")).WaitAsync(Patience));
            Assert.Same(fault, refused);
        }
        finally
        {
            foreach (var child in children)
            {
                Syscall.kill(child.Pid, Signum.SIGKILL);
                Syscall.waitpid(child.Pid, out _, 0); // its reactor is gone: the test reaps it
            }
        }
    }

    [Fact]
    public async Task A_child_stopped_before_exec_is_killed_by_the_spawn_watchdog()
    {
        using var temp = new TempDirectory();
        var fifo = temp.File("stdin");
        Assert.Equal(0, Syscall.mkfifo(fifo, FilePermissions.S_IRUSR | FilePermissions.S_IWUSR));
        var reactor = new ProcessReactor(TimeSpan.FromSeconds(1), DescriptorBudget.DefaultReserve);
        var childrenBefore = OwnChildren();

        // Opening a FIFO no one writes to blocks the child inside posix_spawn; SIGSTOP then makes it what a
        // job-control stop makes it: a child that will not reach exec, holding the reactor thread (vfork).
        var spawn = reactor.SpawnAsync(Command("/bin/true") with { StdinPath = fifo });
        var stuck = await Eventually.WaitAsync(() => OwnChildren().Except(childrenBefore).ToList(), c => c.Count > 0, Patience);
        var pid = Assert.Single(stuck);
        try
        {
            Assert.Equal(0, Syscall.kill(pid, Signum.SIGSTOP));

            var failure = await Assert.ThrowsAsync<IOException>(() => spawn.WaitAsync(Patience));

            Assert.Contains($"pid {pid} had not reached exec", failure.Message);
            Assert.Contains("the spawn watchdog killed it", failure.Message);
            await ProcessWatch.AssertAllGoneAsync([pid], Patience);
            var next = await reactor.SpawnAsync(Command("/bin/true")).WaitAsync(Patience);
            Assert.Equal(0, (await next.Exited.WaitAsync(Patience)).Code);
        }
        finally
        {
            Syscall.kill(pid, Signum.SIGKILL); // gone already unless the watchdog failed
        }
    }

    [Fact]
    public async Task With_a_subreaper_a_dead_workers_orphans_are_killed_and_reaped()
    {
        var reactor = new ProcessReactor(TimeSpan.FromSeconds(5), DescriptorBudget.DefaultReserve);
        var orphan = 0;
        try
        {
            reactor.AdoptOrphans();
            reactor.AdoptOrphans(); // idempotent

            var worker = await reactor.SpawnAsync(Shell("sleep 300 & echo $!; exit 0")).WaitAsync(Patience);
            orphan = int.Parse((await new StreamReader(worker.Stdout).ReadLineAsync().WaitAsync(Patience))!);
            await worker.Exited.WaitAsync(Patience);

            await ProcessWatch.AssertAllGoneAsync([orphan], Patience); // killed with its group, then reaped by us
        }
        finally
        {
            Assert.Equal(0, Libc.prctl(Libc.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)); // the test process is everyone's
            if (orphan != 0)
                Syscall.kill(orphan, Signum.SIGKILL);
        }
    }

    [Fact]
    public async Task Without_a_subreaper_a_dead_workers_orphans_are_left_alone()
    {
        var reactor = new ProcessReactor(TimeSpan.FromSeconds(5), DescriptorBudget.DefaultReserve);
        var worker = await reactor.SpawnAsync(Shell("sleep 300 & echo $!; exit 0")).WaitAsync(Patience);
        var orphan = int.Parse((await new StreamReader(worker.Stdout).ReadLineAsync().WaitAsync(Patience))!);
        try
        {
            await worker.Exited.WaitAsync(Patience);

            Assert.True(ProcessWatch.IsRunning(orphan));
        }
        finally
        {
            Syscall.kill(orphan, Signum.SIGKILL);
            await ProcessWatch.AssertAllDeadAsync([orphan], Patience);
        }
    }

    [Fact]
    public async Task The_exit_time_is_the_death_not_the_end_of_the_output()
    {
        var reactor = new ProcessReactor(TimeSpan.FromSeconds(5), DescriptorBudget.DefaultReserve);
        // The shell exits at once; its background sleep keeps the stdout pipe open for 2 s more.
        var child = await reactor.SpawnAsync(Shell("sleep 2 & exit 0")).WaitAsync(Patience);

        await child.Exited.WaitAsync(Patience);
        var exitedAt = Assert.NotNull(child.ExitedAt);
        await child.Stdout.CopyToAsync(Stream.Null).WaitAsync(Patience);
        var endOfOutput = DateTimeOffset.UtcNow;

        Assert.InRange(exitedAt, child.StartedAt, endOfOutput);
        Assert.True(endOfOutput - exitedAt > TimeSpan.FromSeconds(1),
            $"exit recorded {(endOfOutput - exitedAt).TotalMilliseconds:0} ms before the output ended; the sleep holds it for 2 s");
    }

    private static int SetLimit(Libc.Rlimit limit) => Rlimits.setrlimit(Libc.RLIMIT_NOFILE, limit);

    /// <summary>Children of every thread of this process.</summary>
    private static HashSet<int> OwnChildren() =>
        Directory.EnumerateDirectories("/proc/self/task")
            .SelectMany(task =>
            {
                try
                {
                    return File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
                }
                catch (IOException)
                {
                    return [];
                }
            })
            .Select(int.Parse)
            .ToHashSet();
}
