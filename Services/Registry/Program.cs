using MsSwift.Registry.Extensions;
using MsSwift.Registry.Grpc;
using MsSwift.Registry.Http;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapGrpcService<ModelRegistryImpl>();
app.MapGrpcService<ModelRegistryAdminImpl>();
app.MapRegistryEndpoints();
app.Run();
