using System.Net.Security;
using System.Reflection;
using System.Runtime.InteropServices;
using AnnexEdge.Logging;

namespace AnnexEdge.Connections;

/// <summary>
/// <c>Limits:ReleaseIdleTlsBuffers</c>: has OpenSSL free a TLS connection's record buffers whenever they are empty
/// (<c>SSL_MODE_RELEASE_BUFFERS</c>, as nginx and Python's ssl module set it), and frees the ones it holds now
/// (<c>SSL_free_buffers</c>). By default OpenSSL keeps a ~17 KiB read buffer for the connection's life; and the mode
/// alone, set after the handshake, frees a buffer only when a later record is read, which an idle connection never
/// does (measured with heaptrack: bench/README.md, "Idle scale"). .NET has no API for either, so this reaches the
/// connection's OpenSSL handle through <see cref="SslStream"/>'s private field; on a runtime without that field or
/// type (another platform or version) it is unavailable and the edge keeps OpenSSL's default.
/// </summary>
internal sealed partial class TlsBufferRelease
{
    private const int SslCtrlMode = 33;               // SSL_CTRL_MODE (openssl/ssl.h)
    private const long SslModeReleaseBuffers = 0x10;  // SSL_MODE_RELEASE_BUFFERS
    // SSL_free_buffers freed memory still in use when a record was partly read (CVE-2024-4741), fixed in 3.0.14.
    private const long FixedFreeBuffers = 0x300000e0;

    private readonly FieldInfo _context;
    private readonly Type _sslHandle;
    private readonly SslCtrl _sslCtrl;
    private readonly SslFreeBuffers? _sslFreeBuffers;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate long SslCtrl(nint ssl, int command, long argument, nint pointer);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int SslFreeBuffers(nint ssl);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate ulong OpenSslVersionNumber();

    private TlsBufferRelease(FieldInfo context, Type sslHandle, SslCtrl sslCtrl, SslFreeBuffers? sslFreeBuffers) =>
        (_context, _sslHandle, _sslCtrl, _sslFreeBuffers) = (context, sslHandle, sslCtrl, sslFreeBuffers);

    /// <summary>Whether the buffers held when <see cref="Apply"/> is called are freed too, not only later ones.</summary>
    public bool FreesHeldBuffers => _sslFreeBuffers is not null;

    /// <summary>
    /// The release for this process's runtime and OpenSSL, or null with the reason. Call it after the first TLS
    /// handshake: the runtime loads libssl then, and only the libssl it loaded may be handed its handles.
    /// </summary>
    public static TlsBufferRelease? TryCreate(out string reason) =>
        TryCreate(File.Exists("/proc/self/maps") ? File.ReadLines("/proc/self/maps") : [], out reason);

    internal static TlsBufferRelease? TryCreate(IEnumerable<string> memoryMaps, out string reason)
    {
        if (!OperatingSystem.IsLinux())
        {
            reason = "TLS here is not OpenSSL";
            return null;
        }

        var context = typeof(SslStream).GetField("_securityContext", BindingFlags.Instance | BindingFlags.NonPublic);
        var sslHandle = typeof(SslStream).Assembly.GetType("Microsoft.Win32.SafeHandles.SafeSslHandle");
        if (context is null || sslHandle is null || !typeof(SafeHandle).IsAssignableFrom(sslHandle)
            || !context.FieldType.IsAssignableFrom(sslHandle))
        {
            reason = $"this .NET runtime ({Environment.Version}) does not hold OpenSSL's handle where this edge looks";
            return null;
        }

        var libraries = LoadedLibssl(memoryMaps);
        if (libraries.Count != 1)
        {
            reason = libraries.Count == 0
                ? "libssl is not loaded in this process"
                : $"more than one libssl is loaded ({string.Join(", ", libraries)})";
            return null;
        }

        if (!NativeLibrary.TryLoad(libraries[0], out var library)
            || !NativeLibrary.TryGetExport(library, "SSL_ctrl", out var sslCtrl))
        {
            reason = $"{libraries[0]} has no SSL_ctrl";
            return null;
        }

        // dlsym on libssl's handle also finds libcrypto's exports: libssl depends on it.
        SslFreeBuffers? freeBuffers = null;
        if (NativeLibrary.TryGetExport(library, "OpenSSL_version_num", out var versionNumber)
            && Marshal.GetDelegateForFunctionPointer<OpenSslVersionNumber>(versionNumber)() is var version
            && version >= FixedFreeBuffers
            && NativeLibrary.TryGetExport(library, "SSL_free_buffers", out var sslFreeBuffers))
        {
            freeBuffers = Marshal.GetDelegateForFunctionPointer<SslFreeBuffers>(sslFreeBuffers);
        }

        reason = freeBuffers is null ? $"{libraries[0]}; buffers held now are kept, OpenSSL is older than 3.0.14" : libraries[0];
        return new TlsBufferRelease(context, sslHandle, Marshal.GetDelegateForFunctionPointer<SslCtrl>(sslCtrl), freeBuffers);
    }

    /// <summary>The paths of the libssl files mapped into the process (lines of /proc/self/maps).</summary>
    internal static List<string> LoadedLibssl(IEnumerable<string> memoryMaps)
    {
        var paths = new List<string>();
        foreach (var line in memoryMaps)
        {
            // address perms offset dev inode path: the path is the sixth field and may contain spaces.
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 6 && Path.GetFileName(fields[5]).StartsWith("libssl.so", StringComparison.Ordinal)
                && !paths.Contains(fields[5]))
            {
                paths.Add(fields[5]);
            }
        }

        return paths;
    }

    /// <summary>
    /// Sets the mode on <paramref name="tls"/>'s OpenSSL connection (setting it again changes nothing) and frees the
    /// buffers it holds unless they hold data (OpenSSL checks). The caller must know that no read or write on it is
    /// running: OpenSSL's connections are not thread-safe.
    /// </summary>
    public bool Apply(SslStream tls)
    {
        if (_context.GetValue(tls) is not SafeHandle ssl || ssl.GetType() != _sslHandle || ssl.IsInvalid)
        {
            return false;
        }

        var added = false;
        try
        {
            ssl.DangerousAddRef(ref added);
            var set = (_sslCtrl(ssl.DangerousGetHandle(), SslCtrlMode, SslModeReleaseBuffers, 0) & SslModeReleaseBuffers) != 0;
            _sslFreeBuffers?.Invoke(ssl.DangerousGetHandle());
            return set;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added)
            {
                ssl.DangerousRelease();
            }
        }
    }

    /// <summary>Logs what <see cref="TryCreate(out string)"/> found, once: whether idle connections give their buffers back.</summary>
    public static TlsBufferRelease? TryCreateAndLog(ILogger logger)
    {
        var release = TryCreate(out var reason);
        if (release is null)
        {
            Log.Unavailable(logger, reason);
        }
        else
        {
            Log.Enabled(logger, reason);
        }

        return release;
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.TlsBuffersReleased, LogLevel.Information, "Idle TLS connections give their OpenSSL record buffers back ({Library})")]
        public static partial void Enabled(ILogger logger, string library);

        [LoggerMessage(EdgeEventIds.TlsBuffersKept, LogLevel.Warning, "Limits:ReleaseIdleTlsBuffers is on but unavailable: {Reason}; each idle TLS connection keeps OpenSSL's record buffers (about 10-30 KiB)")]
        public static partial void Unavailable(ILogger logger, string reason);
    }
}
