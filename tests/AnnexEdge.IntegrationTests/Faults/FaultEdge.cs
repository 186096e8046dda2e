using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Faults;

/// <summary>What the fault tests share: a repository served by fake backends, its requests, the edge's status.</summary>
public static class FaultEdge
{
    /// <summary>The repository the fake backends pretend to serve.</summary>
    public const string Uuid = "fa0175ed-9e00-4000-8000-0000000000f1";

    public const string ClientUuid = "c1e00000-0000-4000-8000-000000000001";

    /// <summary>A well-formed key of 1000 bytes (the edge checks syntax, not content).</summary>
    public const string Key = "SHA256E-s1000--0f343b0931126a20f133d67c2b018a3b0f343b0931126a20f133d67c2b018a3b.bin";

    /// <summary>The values of <c>AnnexEdge:Forwarding:DownloadTransport</c>: every download fault is tried on each.</summary>
    public static TheoryData<string> DownloadTransports => [.. AnnexEdge.Forwarding.Download.DownloadTransport.Names];

    /// <summary>The <c>AnnexEdge</c> section for one repository on these backends, without active probes.</summary>
    public static JsonObject ConfigFor(params string[] backends) => ConfigFor(new JsonObject(), backends);

    /// <summary>As <see cref="ConfigFor(string[])"/>, with this <c>Forwarding</c> section.</summary>
    public static JsonObject ConfigFor(JsonObject forwarding, params string[] backends) => new()
    {
        ["Forwarding"] = forwarding,
        ["Repositories"] = new JsonArray(new JsonObject
        {
            ["Name"] = "faulty",
            ["Uuid"] = Uuid,
            ["Backends"] = new JsonArray(backends.Select(b => (JsonNode)JsonValue.Create(b)!).ToArray()),
            // A fake backend has no workers to protect: lock budgets would only answer for it.
            ["MaxLocks"] = 1000,
        }),
        ["Locking"] = new JsonObject { ["TokenKey"] = EdgeProcess.TestTokenKey, ["MaxLocksPerClient"] = 1000 },
        ["HealthChecks"] = new JsonObject { ["Enabled"] = false },
    };

    /// <summary>The path and query of a v4 request about <see cref="Key"/> to the fake repository.</summary>
    public static string PathOf(string endpoint) =>
        endpoint == "key"
            ? $"/git-annex/{Uuid}/v4/key/{Key}?clientuuid={ClientUuid}"
            : $"/git-annex/{Uuid}/v4/{endpoint}?key={Key}&clientuuid={ClientUuid}";

    /// <summary>A client that gives up long after any timeout under test, so a hang shows as a slow answer, not a hidden one.</summary>
    public static HttpClient NewClient() => new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The edge's view of the backend with this address.</summary>
    public static async Task<JsonNode> BackendStatusAsync(EdgeHost edge, string address)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var status = JsonNode.Parse(await http.GetStringAsync($"{edge.Url}/_annexedge/status"))!;
        return status["repositories"]!.AsArray()
            .SelectMany(r => r!["backends"]!.AsArray())
            .Single(b => (string?)b!["address"] == address.TrimEnd('/'))!;
    }

    /// <summary>Polls the status until the backend's availability is as wanted; returns how long it took.</summary>
    public static async Task<TimeSpan> WaitForAvailabilityAsync(EdgeHost edge, string address, bool available, TimeSpan limit)
    {
        var started = DateTime.UtcNow;
        JsonNode? last = null;
        while (DateTime.UtcNow - started < limit)
        {
            last = await BackendStatusAsync(edge, address);
            if ((bool)last["available"]! == available)
            {
                return DateTime.UtcNow - started;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException(
            $"backend {address} was not available={available} within {limit}; last status {last?.ToJsonString()}\n{edge.Logs}");
    }
}
