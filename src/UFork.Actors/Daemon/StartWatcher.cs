using Akka.Actor;
using UFork.Supervision;

namespace UFork.Daemon;

/// <summary>
/// Completes <paramref name="started"/> once every one of the first <paramref name="slots"/> slots has
/// made its first start: a process started, or it could not be (its death is in the log). Events cover
/// what happens from now on; one ListWorkers covers what happened before this actor subscribed.
/// </summary>
internal sealed class StartWatcher : ReceiveActor
{
    private readonly HashSet<int> _settled = [];

    public static Props Props(IActorRef arbiter, int slots, TaskCompletionSource started) =>
        Akka.Actor.Props.Create(() => new StartWatcher(arbiter, slots, started));

    public StartWatcher(IActorRef arbiter, int slots, TaskCompletionSource started)
    {
        Receive<WorkerStarted>(w => Settle(w.Slot));
        Receive<DeadWorker>(d => Settle(d.Slot));
        Receive<IReadOnlyList<WorkerStatus>>(workers =>
        {
            foreach (var worker in workers.Where(w => w.Pid is not null))
                Settle(worker.Slot);
        });
        Receive<Status.Failure>(_ => { }); // the arbiter did not answer: the events still come

        void Settle(int slot)
        {
            if (slot < slots)
                _settled.Add(slot);
            if (_settled.Count < slots)
                return;
            started.TrySetResult();
            Context.Stop(Self);
        }

        Context.System.EventStream.Subscribe(Self, typeof(WorkerStarted));
        Context.System.EventStream.Subscribe(Self, typeof(DeadWorker));
        arbiter.Ask<IReadOnlyList<WorkerStatus>>(ListWorkers.Instance, TimeSpan.FromSeconds(5)).PipeTo(Self);
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
