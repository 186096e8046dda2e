using System.Net;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace AnnexEdge.IntegrationTests.Clusters;

/// <summary>
/// The cluster's checkpresent asks its nodes one at a time: a node that has the key answers for the cluster alone, a
/// "no" or a failure passes the question on, a slow node brings in the next, and "not present" is said only when
/// some node said so and none has it. Fake nodes, so each can be made to answer as a test needs.
/// </summary>
public sealed class ClusterCheckPresentTests
{
    private const string GatewayUuid = "9a7e0000-0000-4000-8000-00000000c4e1";
    private const string ClusterUuid = "ac000000-0000-8000-8000-00000000c4e1";
    private const string ClientUuid = "c1e00000-0000-4000-8000-00000000c4e1";
    private const string Key = "SHA256E-s11--0f343b0931126a20f133d67c2b018a3b0f343b0931126a20f133d67c2b018a3b.bin";

    /// <summary>How long the test's client waits for the edge's answer.</summary>
    private static readonly TimeSpan ClientWaits = TimeSpan.FromSeconds(15);

    /// <summary>How long a node that "never answers" takes.</summary>
    private static readonly TimeSpan SlowNode = TimeSpan.FromSeconds(19);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_node_that_has_the_key_answers_for_the_cluster_without_the_others_being_asked()
    {
        using var nodes = FakeNodes.Answering(true, true, true);
        await using var edge = await nodes.StartEdgeAsync();

        const int checks = 10;
        for (var i = 0; i < checks; i++)
        {
            Assert.Equal("""{"present":true}""", await CheckPresentAsync(edge));
        }

        // Asking every node at once made 3 node checks per check; one at a time makes 1, more only when a node is
        // slower than the hedge delay.
        await Eventually.Async(() => nodes.Checks >= checks, TimeSpan.FromSeconds(10), $"{checks} node checks logged");
        Assert.True(nodes.Checks < 2 * checks, $"{nodes.Checks} node checks for {checks} cluster checks\n--- edge\n{edge.Logs}");
    }

    [Fact]
    public async Task Nodes_that_lack_the_key_pass_the_question_on_to_one_that_has_it()
    {
        using var nodes = FakeNodes.Answering(false, false, true);
        await using var edge = await nodes.StartEdgeAsync();

        Assert.Equal("""{"present":true}""", await CheckPresentAsync(edge));
    }

    [Fact]
    public async Task A_key_no_node_has_is_not_present_after_every_node_said_so()
    {
        using var nodes = FakeNodes.Answering(false, false, false);
        await using var edge = await nodes.StartEdgeAsync();

        Assert.Equal("""{"present":false}""", await CheckPresentAsync(edge));
        Assert.All(nodes.Servers, node => Assert.Single(node.LogEntries));
    }

    [Fact]
    public async Task A_node_that_never_answers_does_not_hold_up_a_node_that_has_the_key()
    {
        // Whichever node comes first in download order: one that hangs brings in the next after the hedge delay.
        using var nodes = FakeNodes.Answering(null, true, true);
        await using var edge = await nodes.StartEdgeAsync();

        Assert.Equal("""{"present":true}""", await CheckPresentAsync(edge));
    }

    [Fact]
    public async Task When_no_node_can_answer_the_cluster_says_nothing_about_the_key()
    {
        using var nodes = FakeNodes.Failing();
        await using var edge = await nodes.StartEdgeAsync();

        var (status, body) = await AskAsync(edge);

        Assert.True(status == HttpStatusCode.BadGateway, $"{(int)status} {body}\n--- edge\n{edge.Logs}");
    }

    /// <summary>The cluster's checkpresent as a client sends it, and the edge's answer.</summary>
    private static async Task<(HttpStatusCode Status, string Body)> AskAsync(EdgeHost edge)
    {
        using var http = new HttpClient { Timeout = ClientWaits };
        using var answer = await http.PostAsync(
            new Uri($"{edge.Url}/git-annex/{ClusterUuid}/v4/checkpresent?key={Key}&clientuuid={ClientUuid}"), null, Ct);
        return (answer.StatusCode, await answer.Content.ReadAsStringAsync(Ct));
    }

    /// <summary>The body of the edge's answer, which must be a 200.</summary>
    private static async Task<string> CheckPresentAsync(EdgeHost edge)
    {
        var (status, body) = await AskAsync(edge);
        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {body}\n--- edge\n{edge.Logs}");
        return body;
    }

    /// <summary>Three fake nodes; each answers checkpresent with its own "present" (null: never answers), or fails.</summary>
    private sealed class FakeNodes : IDisposable
    {
        private static readonly string[] NodeUuids =
            ["0d000000-0000-4000-8000-00000000c4a1", "0d000000-0000-4000-8000-00000000c4a2", "0d000000-0000-4000-8000-00000000c4a3"];

        private FakeNodes(bool failing, bool?[] present)
        {
            for (var i = 0; i < Servers.Length; i++)
            {
                var response = Response.Create().WithStatusCode(failing ? 500 : 200)
                    .WithHeader("Content-Type", "application/json;charset=utf-8")
                    .WithBody(present[i] is { } p ? $$"""{"present":{{(p ? "true" : "false")}}}""" : "{}");
                if (present[i] is null && !failing)
                {
                    // Longer than the test's client waits (and shorter than the edge's NodeAnswerTimeout): only
                    // another node can answer in time.
                    response = response.WithDelay(SlowNode);
                }

                Servers[i].Given(Request.Create().WithPath(new WireMock.Matchers.WildcardMatcher("/git-annex/*/v*/checkpresent")).UsingPost())
                    .RespondWith(response);
            }
        }

        /// <summary>Nodes answering present (true), absent (false) or never in time (null), in this order.</summary>
        public static FakeNodes Answering(bool? node1, bool? node2, bool? node3) => new(failing: false, [node1, node2, node3]);

        /// <summary>Nodes that all answer checkpresent with a server error.</summary>
        public static FakeNodes Failing() => new(failing: true, [false, false, false]);

        public WireMockServer[] Servers { get; } = [WireMockServer.Start(), WireMockServer.Start(), WireMockServer.Start()];

        /// <summary>The checkpresent requests the nodes have logged so far.</summary>
        public int Checks => Servers.Sum(s => s.LogEntries.Count);

        public Task<EdgeHost> StartEdgeAsync() => EdgeHost.StartAsync(new JsonObject
        {
            ["Uuid"] = GatewayUuid,
            ["Repositories"] = new JsonArray(Enumerable.Range(0, Servers.Length).Select(i => (JsonNode)new JsonObject
            {
                ["Name"] = $"node{i + 1}",
                ["Uuid"] = NodeUuids[i],
                ["Backends"] = new JsonArray(Servers[i].Url!),
            }).ToArray()),
            ["Clusters"] = new JsonArray(new JsonObject
            {
                ["Name"] = "mycluster",
                ["Uuid"] = ClusterUuid,
                ["Nodes"] = new JsonArray("node1", "node2", "node3"),
            }),
            ["Locking"] = new JsonObject { ["TokenKey"] = EdgeHost.TestTokenKey },
            ["HealthChecks"] = new JsonObject { ["Enabled"] = false },
        });

        public void Dispose()
        {
            foreach (var server in Servers)
            {
                server.Dispose();
            }
        }
    }
}
