using System.Collections.Concurrent;
using AnnexEdge.Logging;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;

namespace AnnexEdge.Clusters;

/// <summary>
/// How this edge sends puts to a node, whichever path sends them (the cluster gateway's fan-out or a client's put to
/// the node's own UUID), so that git-annex's p2phttp (10.20250416) never meets one it leaves unanswered for good:
/// <list type="bullet">
/// <item>one put per node and key at a time: a second put of a key the node is still receiving (a client's retry while
/// the first attempt runs, one client putting to a cluster and to one of its nodes at once) is refused inside the node
/// ("transfer already in progress") and never answered, so it waits for the first one instead;</item>
/// <item>at most the node's <c>Jobs</c> puts at once per backend: measured with raw puts of 1 MiB held open for 3 s,
/// a <c>--jobs 4</c> node answered 5 at once every time but left 5 of 6 and 9 of 10 unanswered (and then answered
/// nothing at all), a <c>--jobs 8</c> node answered 16 but not 20;</item>
/// <item>a small key's putoffset is asked with checkpresent (<see cref="IsSmall"/>).</item>
/// </list>
/// </summary>
internal sealed partial class NodePuts(ILogger<NodePuts> logger)
{
    /// <summary>
    /// Keys up to this size are never resumed, so their putoffset asks the nodes with checkpresent, which takes no
    /// transfer lock. p2phttp holds a key's transfer lock, whichever client asked, for a moment after it answers
    /// putoffset; a put of the key in that moment is never answered and the node's worker is lost for good (seen once
    /// in ~6,000 small cluster puts with both cores busy, and by a -J4 client through the edge). Resuming a small key
    /// would save nothing.
    /// </summary>
    public const long SmallKeySize = 1 << 20;

    private readonly ConcurrentDictionary<(string Node, string Key), TaskCompletionSource> _inFlight = new();
    private readonly ConcurrentDictionary<string, NodeSlots> _slots = new(StringComparer.Ordinal);
    private readonly ILogger _logger = logger;

    public static bool IsSmall(string key) => AnnexKey.TryParse(key, out var size) && size <= SmallKeySize;

    public int InFlight => _inFlight.Count;

    /// <summary>Puts this edge may send the node at once: its <c>Jobs</c> for each backend.</summary>
    public static int SlotsOf(Repository node) => node.Jobs * Math.Max(1, node.Backends.Count);

    /// <summary>
    /// Claims the put of the key to the node; null when one is in flight already, and then <paramref name="running"/>
    /// completes when that one has ended. The claimed put still waits for a slot (<see cref="Claim.WaitForSlotAsync"/>).
    /// </summary>
    public Claim? TryClaim(Repository node, string key, out Task running)
    {
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var current = _inFlight.GetOrAdd((node.Uuid, key), mine);
        running = current.Task;
        return current == mine ? new Claim(this, node, (node.Uuid, key), mine) : null;
    }

    /// <summary>Claims the put of the key to the node and a slot, waiting for any put of the key in flight to end first.</summary>
    public async Task<Claim> ClaimAsync(Repository node, string key, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryClaim(node, key, out var running) is { } claim)
            {
                try
                {
                    await claim.WaitForSlotAsync(cancellationToken);
                    return claim;
                }
                catch
                {
                    claim.Dispose();
                    throw;
                }
            }

            await running.WaitAsync(cancellationToken);
        }
    }

    private NodeSlots SlotsFor(Repository node) => _slots.GetOrAdd(node.Uuid, _ => new NodeSlots());

    /// <summary>One node's put of one key; ends exactly once (disposing it ends it and frees its slot).</summary>
    internal sealed class Claim(NodePuts owner, Repository node, (string Node, string Key) id, TaskCompletionSource ended) : IDisposable
    {
        private NodeSlots? _slot;

        /// <summary>
        /// Waits for one of the node's put slots. A put to several nodes takes its slots in the order of the nodes'
        /// UUIDs, so two such puts never wait for each other.
        /// </summary>
        public async Task WaitForSlotAsync(CancellationToken cancellationToken)
        {
            var slots = owner.SlotsFor(node);
            var capacity = SlotsOf(node);
            if (!slots.TryTake(capacity, out var turn))
            {
                Log.WaitingForSlot(owner._logger, node.Name, capacity, id.Key);
                await NodeSlots.WaitAsync(turn!, cancellationToken);
            }

            _slot = slots;
        }

        public void Dispose()
        {
            owner._inFlight.TryRemove(new KeyValuePair<(string, string), TaskCompletionSource>(id, ended));
            Interlocked.Exchange(ref _slot, null)?.Release();
            ended.TrySetResult();
        }
    }

    /// <summary>
    /// A node's put slots. Unlike a semaphore its capacity follows the node's current <c>Jobs</c> and backends (a
    /// config reload may change them): each taker says the capacity it sees, and a freed slot goes to the next waiter
    /// only while fewer than the latest capacity are taken.
    /// </summary>
    internal sealed class NodeSlots
    {
        private readonly Lock _lock = new();
        private readonly Queue<TaskCompletionSource> _waiting = new();
        private int _taken;
        private int _capacity = 1;

        public int Taken
        {
            get
            {
                lock (_lock)
                {
                    return _taken;
                }
            }
        }

        /// <summary>Takes a slot now if one is free; otherwise queues <paramref name="turn"/>, which completes when one is given.</summary>
        public bool TryTake(int capacity, out TaskCompletionSource? turn)
        {
            lock (_lock)
            {
                _capacity = capacity;
                if (_taken < capacity && _waiting.Count == 0)
                {
                    _taken++;
                    turn = null;
                    return true;
                }

                turn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting.Enqueue(turn);
                // A larger capacity than before frees places for those already waiting (this turn among them).
                GiveFreeSlots();
                return false;
            }
        }

        /// <summary>Waits for a queued turn; a cancelled turn is skipped when its slot comes.</summary>
        public static async Task WaitAsync(TaskCompletionSource turn, CancellationToken cancellationToken)
        {
            using var registration = cancellationToken.Register(() => turn.TrySetCanceled(cancellationToken));
            await turn.Task;
        }

        public void Release()
        {
            lock (_lock)
            {
                _taken--;
                GiveFreeSlots();
            }
        }

        private void GiveFreeSlots()
        {
            while (_taken < _capacity && _waiting.TryDequeue(out var next))
            {
                if (next.TrySetResult())
                {
                    _taken++;
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.NodePutsFull, LogLevel.Information, "Node {Node}: this edge has {Slots} puts in flight to it already (its Jobs for each backend); the put of {Key} waits for one to end")]
        public static partial void WaitingForSlot(ILogger logger, string node, int slots, string key);
    }
}
