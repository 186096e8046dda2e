using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Security;

namespace AnnexEdge.IntegrationTests.Locking;

/// <summary>
/// Lock requests from distinct clients as the edge tells them apart: anonymous clients from other loopback addresses
/// (all of 127.0.0.0/8 reaches the edge's 127.0.0.1 on Linux) and a user with Basic credentials.
/// </summary>
internal static class LockClients
{
    public const string User = "alice";
    public const string Password = "correct horse battery staple";

    /// <summary>An anonymous client whose connections come from this loopback address.</summary>
    public static HttpClient From(string loopbackAddress) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(loopbackAddress), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>A client that authenticates as <see cref="User"/>.</summary>
    public static HttpClient AsUser()
    {
        var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}")));
        return http;
    }

    /// <summary>The node's edge config with <see cref="User"/> (full access) and anonymous clients that may do anything.</summary>
    public static JsonObject ConfigWithUser(P2pNode node)
    {
        var config = EdgeHost.ConfigFor(node);
        config["Users"] = new JsonArray(new JsonObject
        {
            ["Name"] = User,
            ["PasswordHash"] = PasswordHash.Create(Password, PasswordHash.MinimumIterations),
            ["Access"] = new JsonObject { ["*"] = "full" },
        });
        config["Anonymous"] = new JsonObject { ["*"] = "full" };
        config["AllowBasicAuthOverHttp"] = true;
        return config;
    }

    /// <summary>lockcontent from this client (with a clientuuid of its choice); the lockid, or null when not locked.</summary>
    public static async Task<string?> LockAsync(HttpClient http, string api, string key, string clientUuid = P2pHttp.ClientUuid)
    {
        using var response = await http.PostAsync(P2pHttp.Url(api, "lockcontent", key, clientUuid), null, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"lockcontent answered {(int)response.StatusCode} {body}");
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("locked").GetBoolean() ? json.RootElement.GetProperty("lockid").GetString() : null;
    }

    /// <summary>A keeplocked that asks to unlock at once: relayed, it would release the lock.</summary>
    public static async Task<(int Status, string Body)> UnlockAsync(HttpClient http, string api, string lockId)
    {
        using var response = await http.PostAsync(
            $"{api}/v4/keeplocked?lockid={Uri.EscapeDataString(lockId)}&clientuuid={P2pHttp.ClientUuid}",
            new StringContent("{\"unlock\": true}\n"),
            TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    /// <summary>Keys stored straight on the node (locks need content; the edge's budget is not involved).</summary>
    public static async Task<string[]> StoreKeysAsync(P2pNode node, int count)
    {
        var api = P2pHttp.Api(node.Url, node.Uuid);
        var keys = new string[count];
        for (var i = 0; i < count; i++)
        {
            keys[i] = (await P2pHttp.PutRandomObjectAsync(api, 100)).Key;
        }

        return keys;
    }
}
