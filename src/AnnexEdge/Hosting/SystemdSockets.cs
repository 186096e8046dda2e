using System.Globalization;
using System.Net;
using System.Net.Sockets;
using AnnexEdge.Logging;

namespace AnnexEdge.Hosting;

/// <summary>A listening socket systemd passed to this process, and whether the edge serves HTTPS on it.</summary>
internal sealed record PassedSocket(int Fd, string Name, bool Https);

/// <summary>
/// Socket activation (<c>sd_listen_fds_with_names</c>): when systemd (or <c>systemd-socket-activate</c>) passes
/// listening sockets in <c>LISTEN_FDS</c> for this process (<c>LISTEN_PID</c>), Kestrel serves on exactly those, so
/// the edge serves 80 and 443 without root or capabilities; <c>--urls</c> and <c>ASPNETCORE_URLS</c> are then ignored
/// (Kestrel says so), <c>Kestrel:Endpoints</c> still add to them. A socket named <c>https</c> (FileDescriptorName)
/// is HTTPS, one named <c>http</c> plain HTTP; any other name (systemd's default is the socket unit's) is decided by
/// its port: 443 is HTTPS, every other port plain HTTP. HTTPS takes its certificate as every HTTPS endpoint does
/// (ACME, or <c>Kestrel:Certificates:Default</c>).
/// </summary>
internal static partial class SystemdSockets
{
    /// <summary>SD_LISTEN_FDS_START: the first passed descriptor.</summary>
    public const int FirstFd = 3;

    public const int HttpsPort = 443;

    /// <summary>
    /// The sockets passed to <paramref name="processId"/>, from the three variables as systemd sets them; none when
    /// they are for another process (a parent's, inherited) or absent. <paramref name="localPort"/> reads a socket's port.
    /// </summary>
    public static IReadOnlyList<PassedSocket> Parse(
        string? listenPid, string? listenFds, string? listenFdNames, int processId, Func<int, int?> localPort)
    {
        if (listenPid != processId.ToString(CultureInfo.InvariantCulture)
            || !int.TryParse(listenFds, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count <= 0)
        {
            return [];
        }

        var names = listenFdNames?.Split(':') ?? [];
        var sockets = new PassedSocket[count];
        for (var i = 0; i < count; i++)
        {
            var fd = FirstFd + i;
            var name = i < names.Length ? names[i] : "";
            var https = name switch
            {
                "https" => true,
                "http" => false,
                _ => localPort(fd) == HttpsPort,
            };
            sockets[i] = new PassedSocket(fd, name, https);
        }

        return sockets;
    }

    /// <summary>Has Kestrel listen on the sockets systemd passed, if any. Goes after every other Kestrel and HTTPS setting.</summary>
    public static void AddSystemdSockets(this WebApplicationBuilder builder)
    {
        var sockets = Parse(
            Environment.GetEnvironmentVariable("LISTEN_PID"), Environment.GetEnvironmentVariable("LISTEN_FDS"),
            Environment.GetEnvironmentVariable("LISTEN_FDNAMES"), Environment.ProcessId, LocalPort);
        if (sockets.Count == 0)
        {
            return;
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var logger = kestrel.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SystemdSockets));
            foreach (var socket in sockets)
            {
                // The endpoint defaults (connection limits, PROXY header) apply; UseHttps takes the HTTPS defaults.
                kestrel.ListenHandle((ulong)socket.Fd, listen =>
                {
                    if (socket.Https)
                    {
                        listen.UseHttps();
                    }
                });
                Log.Listening(logger, socket.Fd, socket.Name, socket.Https ? "https" : "http");
            }
        });
    }

    private static int? LocalPort(int fd)
    {
        try
        {
            // Not owned: Kestrel takes the descriptor over later.
            using var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: false));
            return (socket.LocalEndPoint as IPEndPoint)?.Port;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.SystemdSocket, LogLevel.Information, "Serving {Scheme} on the socket systemd passed as descriptor {Fd} (name \"{Name}\")")]
        public static partial void Listening(ILogger logger, int fd, string name, string scheme);
    }
}
