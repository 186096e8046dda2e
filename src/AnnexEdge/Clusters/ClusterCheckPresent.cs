using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;

namespace AnnexEdge.Clusters;

/// <summary>
/// Which nodes of a cluster have a key. Serves the cluster's checkpresent (one node at a time, hedged) and finds the
/// holders for a GET of an unsized key (every node at once).
/// </summary>
internal sealed class ClusterCheckPresent(NodeClient nodes, TimeProvider time)
{
    /// <summary>
    /// How long the cluster's checkpresent waits for one node before asking the next one as well. A node answers in
    /// ~10 ms (p90 ~30 ms) while a -J4 client loads the cluster (bench/files.sh, session 21), so only a node that is
    /// really slow brings in another.
    /// </summary>
    private static readonly TimeSpan HedgeDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The cluster's checkpresent: this edge's nodes in download order, one at a time, then the nodes at other sites
    /// all at once; a "no" or a failure asks the next at once, a node slower than <see cref="HedgeDelay"/> brings in
    /// the next as well, and the first "present" wins.
    /// </summary>
    /// <remarks>
    /// Asking every node at once cost the nodes three checks per client check, and a git-annex client makes two per
    /// file it gets: on 2 cores that was the difference between a get from the cluster and one from a single node
    /// (bench/files.sh, session 21: 11.4 s against 6.7 s for 300 files, the same edge CPU; 8.9 s one at a time).
    /// </remarks>
    public async Task ServeAsync(HttpContext context, P2pRequestFeature feature, IReadOnlyList<Repository> candidates, CancellationToken ct)
    {
        var order = NodePlacement.DownloadOrder(candidates, nodes.InFlight);
        var pending = new List<Task<bool?>>(order.Count);
        var next = 0;
        var anyAnswer = false;
        while (next < order.Count || pending.Count > 0)
        {
            // Nodes at other sites are asked together once the first of them comes: each asked in turn would cost
            // a round trip over its link (as for a GET, ClusterDownload).
            while (next < order.Count)
            {
                var node = order[next++];
                pending.Add(Search.AskAsync(nodes, feature, node, ct));
                if (node.Via is null)
                {
                    break;
                }
            }

            var answered = Task.WhenAny(pending);
            if (next < order.Count && !answered.IsCompleted)
            {
                using var hedge = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var slow = Task.Delay(HedgeDelay, time, hedge.Token);
                if (await Task.WhenAny(answered, slow) == slow)
                {
                    // Slow: ask the next node as well, and take whichever answers first.
                    continue;
                }

                await hedge.CancelAsync();
            }

            var done = await answered;
            pending.Remove(done);
            var present = await done;
            if (present == true)
            {
                // Checks still running are left to finish and their answers dropped (see Search).
                await context.AnswerAsync(P2pAnswers.Present(true));
                return;
            }

            anyAnswer |= present == false;
        }

        // False only when some node answered and none has it.
        if (anyAnswer)
        {
            await context.AnswerAsync(P2pAnswers.Present(false));
        }
        else
        {
            await context.FailAsync("no node of the cluster could be asked");
        }
    }

    /// <summary>Starts asking every candidate, in download order.</summary>
    public Search Ask(P2pRequestFeature feature, IReadOnlyList<Repository> candidates, CancellationToken ct)
    {
        var order = NodePlacement.DownloadOrder(candidates, nodes.InFlight);
        return new Search(nodes, feature, order, ct);
    }

    /// <summary>
    /// The checkpresent of one key on some nodes, all in flight at once, so the holders are known as soon as the
    /// slowest node allows. Checks still running when the answer is known are left to finish (within
    /// <c>NodeAnswerTimeout</c>) and their answers dropped; only the client's departure cancels them.
    /// </summary>
    /// <remarks>
    /// Cancelling them once the first node said "present" saved the nodes nothing (each had the request already), but
    /// cost the edge their keep-alive connections (a request cancelled in flight closes its HTTP/1.1 connection):
    /// bench/files.sh measured 3 new node connections and about 45 exceptions per file fetched from a 3-node cluster.
    /// </remarks>
    internal sealed class Search
    {
        private readonly Repository[] _order;
        private readonly Task<bool?>[] _answers;

        public Search(NodeClient nodes, P2pRequestFeature feature, IReadOnlyList<Repository> order, CancellationToken ct)
        {
            _order = [.. order];
            _answers = order.Select(node => AskAsync(nodes, feature, node, ct)).ToArray();
        }

        internal static async Task<bool?> AskAsync(NodeClient nodes, P2pRequestFeature feature, Repository node, CancellationToken ct)
        {
            try
            {
                var request = nodes.NodeRequest(feature.Request, node, P2pEndpoint.CheckPresent);
                return (await nodes.PostAsync(feature, node, request, ct))?.Bool("present");
            }
            catch (OperationCanceledException)
            {
                // The client left.
                return null;
            }
        }

        /// <summary>
        /// The nodes that have the key, in download order: each is given as soon as every node before it has answered,
        /// so the cheapest holder is never passed over for a faster, dearer one.
        /// </summary>
        public async IAsyncEnumerable<Repository> HoldersInOrderAsync()
        {
            for (var i = 0; i < _order.Length; i++)
            {
                var present = await _answers[i];
                SomeUnanswered |= present is null;
                if (present == true)
                {
                    yield return _order[i];
                }
            }
        }

        /// <summary>Whether this node (one of those asked) said it has the key, once it has answered.</summary>
        public async Task<bool> HasAsync(Repository node)
        {
            var present = await _answers[Array.IndexOf(_order, node)];
            SomeUnanswered |= present is null;
            return present == true;
        }

        /// <summary>Some node could not say whether it has the key (so "not found" cannot be said truthfully).</summary>
        public bool SomeUnanswered { get; private set; }
    }
}
