using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;

namespace AnnexEdge.Clusters;

/// <summary>
/// Which nodes of a cluster have a key: every node is asked at once (a hedged checkpresent), so the answer waits for
/// no slower node than it must. Serves the cluster's checkpresent and finds the holders for a GET of an unsized key.
/// </summary>
internal sealed class ClusterCheckPresent(NodeClient nodes)
{
    /// <summary>The cluster's checkpresent: the first "present" wins; the other nodes' answers are not waited for.</summary>
    public async Task ServeAsync(HttpContext context, P2pRequestFeature feature, IReadOnlyList<Repository> candidates, CancellationToken ct)
    {
        var search = Ask(feature, candidates, ct);
        var anyAnswer = false;
        await foreach (var (_, present) in search.AnswersAsync())
        {
            if (present == true)
            {
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
    /// The checkpresent of one key on some nodes, all in flight at once. Checks still running when the answer is known
    /// are left to finish (within <c>NodeAnswerTimeout</c>) and their answers dropped; only the client's departure
    /// cancels them.
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

        private static async Task<bool?> AskAsync(NodeClient nodes, P2pRequestFeature feature, Repository node, CancellationToken ct)
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

        /// <summary>Each node's answer as it arrives (null: the node could not answer).</summary>
        public async IAsyncEnumerable<(Repository Node, bool? Present)> AnswersAsync()
        {
            var pending = _answers.ToList();
            while (pending.Count > 0)
            {
                var done = await Task.WhenAny(pending);
                pending.Remove(done);
                yield return (_order[Array.IndexOf(_answers, done)], await done);
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
