using System.Diagnostics.Metrics;
using System.Text.Json;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Clusters;

/// <summary>The edge as a cluster's gateway, against real p2phttp nodes and a real git-annex client.</summary>
public sealed class ClusterGatewayTests(ClusterLab lab) : IClassFixture<ClusterLab>
{
    private static string[] PlusUuids(JsonElement answer) =>
        answer.GetProperty("plusuuids").EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal).ToArray();

    private string[] AllNodes => lab.Nodes.Select(n => n.Uuid).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task A_real_client_copies_gets_checks_and_drops_a_50_MiB_file_through_the_cluster()
    {
        var client = lab.Client;
        var key = await client.AddRandomFileAsync("big.bin", 50L * 1024 * 1024 + 123);

        (await client.GitAsync("annex", "copy", "--to", "origin-mycluster", "big.bin")).EnsureSuccess("copy --to origin-mycluster");
        Assert.Equal(AllNodes, await lab.HoldersAsync(key));

        var whereis = (await client.GitAsync("annex", "whereis", "big.bin")).EnsureSuccess("whereis").Output;
        Assert.All(lab.Nodes, n => Assert.Contains(n.Uuid, whereis, StringComparison.Ordinal));

        // A local drop must lock a copy on some node through the edge.
        (await client.GitAsync("annex", "drop", "big.bin")).EnsureSuccess("drop");
        (await client.GitAsync("annex", "get", "--from", "origin-mycluster", "big.bin")).EnsureSuccess("get --from origin-mycluster");
        Assert.Equal(key, (await client.GitAsync("annex", "lookupkey", "big.bin")).Output.Trim());
        (await client.GitAsync("annex", "fsck", "--fast", "big.bin")).EnsureSuccess("local fsck after get");
        (await client.GitAsync("annex", "fsck", "--from", "origin-mycluster", "big.bin")).EnsureSuccess("fsck --from origin-mycluster");

        (await client.GitAsync("annex", "drop", "--from", "origin-mycluster", "big.bin")).EnsureSuccess("drop --from origin-mycluster");
        Assert.Empty(await lab.HoldersAsync(key));
    }

    [Fact]
    public async Task Put_to_the_cluster_is_stored_on_every_node_and_answered_with_exactly_their_uuids()
    {
        var ct = TestContext.Current.CancellationToken;
        var content = TestObject.Random(3 * 1024 * 1024 + 5);

        var stored = await lab.PutAsync(lab.Edge, lab.ClusterUuid, "v4", content, ct);

        Assert.True(stored.GetProperty("stored").GetBoolean(), stored.ToString());
        Assert.Equal(AllNodes, PlusUuids(stored));
        Assert.Equal(AllNodes, await lab.HoldersAsync(content.Key));

        var offset = await lab.PostAsync(lab.Edge, lab.ClusterUuid, "v4", "putoffset", "&key=" + content.Key, ct);
        Assert.True(offset.GetProperty("alreadyhave").GetBoolean(), offset.ToString());
        Assert.Equal(AllNodes, PlusUuids(offset));

        var present = await lab.PostAsync(lab.Edge, lab.ClusterUuid, "v4", "checkpresent", "&key=" + content.Key, ct);
        Assert.True(present.GetProperty("present").GetBoolean());

        var got = await lab.Http.GetByteArrayAsync(ClusterLab.RequestUrl(lab.Edge, lab.ClusterUuid, "v4", "key/" + content.Key), ct);
        Assert.True(content.Bytes.AsSpan().SequenceEqual(got), "GET from the cluster returns the content");
    }

    [Fact]
    public async Task Checkpresent_on_the_cluster_keeps_every_node_connection_open()
    {
        // The first node's "present" answers the client; the other nodes' checks used to be cancelled in flight, which
        // closes their keep-alive connections (bench/files.sh: 3 new node connections per file).
        var ct = TestContext.Current.CancellationToken;
        var content = TestObject.Random(10_000);
        await lab.PutAsync(lab.Edge, lab.ClusterUuid, "v4", content, ct);
        var nodePorts = lab.Nodes.SelectMany(n => n.Urls).Select(u => new Uri(u).Port).ToHashSet();
        var closed = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument is { Meter.Name: "System.Net.Http", Name: "http.client.connection.duration" })
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "server.port", Value: int port } && nodePorts.Contains(port))
                {
                    Interlocked.Increment(ref closed);
                }
            }
        });
        listener.Start();

        for (var i = 0; i < 20; i++)
        {
            var present = await lab.PostAsync(lab.Edge, lab.ClusterUuid, "v4", "checkpresent", "&key=" + content.Key, ct);
            Assert.True(present.GetProperty("present").GetBoolean(), present.ToString());
        }

        Assert.Equal(0, Volatile.Read(ref closed));
    }

    [Fact]
    public async Task Put_with_protocol_v1_answers_without_plusuuids()
    {
        var ct = TestContext.Current.CancellationToken;
        var content = TestObject.Random(100_000);

        var stored = await lab.PutAsync(lab.Edge, lab.ClusterUuid, "v1", content, ct);

        Assert.Equal("""{"stored":true}""", stored.GetRawText());
        Assert.Equal(AllNodes, await lab.HoldersAsync(content.Key));
    }

    [Fact]
    public async Task Lockcontent_on_the_cluster_is_never_granted()
    {
        var ct = TestContext.Current.CancellationToken;
        var content = TestObject.Random(10_000);
        await lab.PutAsync(lab.Edge, lab.ClusterUuid, "v4", content, ct);

        var locked = await lab.PostAsync(lab.Edge, lab.ClusterUuid, "v4", "lockcontent", "&key=" + content.Key, ct);

        Assert.Equal("""{"locked":false}""", locked.GetRawText());
    }

    [Fact]
    public async Task Gettimestamp_on_the_cluster_is_unix_time_in_seconds()
    {
        var ct = TestContext.Current.CancellationToken;
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        var answer = await lab.PostAsync(lab.Edge, lab.ClusterUuid, "v4", "gettimestamp", "", ct);

        var after = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.InRange(answer.GetProperty("timestamp").GetInt64(), before - 1, after + 1);
    }

    [Fact]
    public async Task Remove_before_a_passed_deadline_removes_nothing_and_before_a_future_one_removes_everywhere()
    {
        var ct = TestContext.Current.CancellationToken;
        var content = TestObject.Random(200_000);
        await lab.PutAsync(lab.Edge, lab.ClusterUuid, "v4", content, ct);
        var now = (await lab.PostAsync(lab.Edge, lab.ClusterUuid, "v4", "gettimestamp", "", ct)).GetProperty("timestamp").GetInt64();

        var late = await lab.PostAsync(lab.Edge, lab.ClusterUuid, "v4", "remove-before", $"&key={content.Key}&timestamp={now - 10}", ct);

        Assert.False(late.GetProperty("removed").GetBoolean(), late.ToString());
        Assert.Empty(PlusUuids(late));
        Assert.Equal(AllNodes, await lab.HoldersAsync(content.Key));

        var early = await lab.PostAsync(lab.Edge, lab.ClusterUuid, "v4", "remove-before", $"&key={content.Key}&timestamp={now + 60}", ct);

        Assert.True(early.GetProperty("removed").GetBoolean(), early + "\n" + lab.Logs);
        Assert.Equal(AllNodes, PlusUuids(early));
        Assert.Empty(await lab.HoldersAsync(content.Key));
    }

    [Fact]
    public async Task With_two_copies_a_put_lands_on_the_same_two_nodes_through_any_edge()
    {
        var ct = TestContext.Current.CancellationToken;
        var edgeA = await lab.StartEdgeAsync(c => c["Clusters"]![0]!["Copies"] = 2);
        var edgeB = await lab.StartEdgeAsync(c => c["Clusters"]![0]!["Copies"] = 2);

        foreach (var content in Enumerable.Range(0, 4).Select(_ => TestObject.Random(50_000)))
        {
            var expected = lab.Nodes
                .OrderByDescending(n => AnnexEdge.Clusters.NodePlacement.RendezvousScore(content.Key, n.Uuid))
                .Take(2).Select(n => n.Uuid).Order(StringComparer.Ordinal).ToArray();

            var first = await lab.PutAsync(edgeA, lab.ClusterUuid, "v4", content, ct);
            Assert.True(first.GetProperty("stored").GetBoolean(), first.ToString());
            Assert.Equal(expected, PlusUuids(first));
            Assert.Equal(expected, await lab.HoldersAsync(content.Key));

            // Gone from the cluster, then stored again through another edge process: the same two nodes.
            var removed = await lab.PostAsync(edgeA, lab.ClusterUuid, "v4", "remove", "&key=" + content.Key, ct);
            Assert.True(removed.GetProperty("removed").GetBoolean(), removed.ToString());
            Assert.Empty(await lab.HoldersAsync(content.Key));

            var second = await lab.PutAsync(edgeB, lab.ClusterUuid, "v4", content, ct);
            Assert.Equal(expected, PlusUuids(second));
            Assert.Equal(expected, await lab.HoldersAsync(content.Key));
        }
    }
}
