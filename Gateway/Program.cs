using MsSwift.Gateway.Async;
using MsSwift.Gateway.Auth;
using MsSwift.Gateway.Extensions;
using MsSwift.Gateway.Routing;
using MsSwift.Gateway.Telemetry;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();
app.UseRequestId();
// Explicit, because the size limit depends on the matched route (a route may have its own).
app.UseRouting();
app.UseRequestSizeLimit();
app.UseApiKeyAccess();
app.MapDefaultEndpoints();
app.MapAsyncPredict();
app.MapReverseProxy(proxy =>
{
    proxy.UseForwarderErrors();
    proxy.UseUnreachedRetry();
    proxy.UseSessionAffinity();
    proxy.UseLoadBalancing();
    proxy.UsePassiveHealthChecks();
});
app.Run();
