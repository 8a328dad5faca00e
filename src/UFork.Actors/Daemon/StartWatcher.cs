using Akka.Actor;
using UFork.Supervision;

namespace UFork.Daemon;

/// <summary>
/// Completes <paramref name="ready"/> once every one of the first <paramref name="slots"/> slots has a
/// ready worker, so that <c>--daemon</c> returns to its caller when the service serves. Events cover what
/// happens from now on; one ListWorkers covers what happened before this actor subscribed. An arbiter that
/// halts before (its workers cannot boot) is not ready: the daemon exits with the arbiter's code instead.
/// </summary>
internal sealed class StartWatcher : ReceiveActor
{
    private readonly HashSet<int> _ready = [];

    public static Props Props(IActorRef arbiter, int slots, TaskCompletionSource ready) =>
        Akka.Actor.Props.Create(() => new StartWatcher(arbiter, slots, ready));

    public StartWatcher(IActorRef arbiter, int slots, TaskCompletionSource ready)
    {
        Receive<WorkerReady>(w => Settle(w.Slot));
        Receive<IReadOnlyList<WorkerStatus>>(workers =>
        {
            foreach (var worker in workers.Where(w => w.State == WorkerState.Ready))
                Settle(worker.Slot);
        });
        Receive<Status.Failure>(_ => { }); // the arbiter did not answer: the events still come

        void Settle(int slot)
        {
            if (slot < slots)
                _ready.Add(slot);
            if (_ready.Count < slots)
                return;
            ready.TrySetResult();
            Context.Stop(Self);
        }

        Context.System.EventStream.Subscribe(Self, typeof(WorkerReady));
        arbiter.Ask<IReadOnlyList<WorkerStatus>>(ListWorkers.Instance, TimeSpan.FromSeconds(5)).PipeTo(Self);
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
