-- Argo CD health of an argoproj.io Application, for the app of apps: Argo CD (1.8 and later)
-- no longer assesses child Applications, so without this a sync wave of the root Application
-- (the CRDs at -2, the operator at -1, the fleet at 0) would not wait for the previous wave to
-- be Healthy. This is the customization Argo CD documents, made stricter in two ways: a child
-- whose sync operation is still running, or whose resources are Healthy but not yet Synced to
-- its target revision, is Progressing (its health may still describe the previous revision);
-- and a failed sync operation is Degraded. Lua 5.1 (gopher-lua).
local hs = {}
hs.status = "Progressing"
hs.message = "Waiting for Argo CD to assess the Application"

if obj.status == nil then
  return hs
end

local operation = obj.status.operationState
if operation ~= nil and (operation.phase == "Running" or operation.phase == "Terminating") then
  hs.status = "Progressing"
  hs.message = "Sync operation " .. operation.phase
  if operation.message ~= nil and operation.message ~= "" then
    hs.message = hs.message .. ": " .. operation.message
  end
  return hs
end
if operation ~= nil and (operation.phase == "Failed" or operation.phase == "Error") then
  hs.status = "Degraded"
  hs.message = "Sync " .. operation.phase
  if operation.message ~= nil and operation.message ~= "" then
    hs.message = hs.message .. ": " .. operation.message
  end
  return hs
end

local health = obj.status.health
if health == nil or health.status == nil or health.status == "" then
  return hs
end

hs.status = health.status
hs.message = health.message or ""
if health.status == "Healthy" then
  local sync = obj.status.sync
  local synced = sync ~= nil and sync.status == "Synced"
  if not synced then
    hs.status = "Progressing"
    local state = "Unknown"
    if sync ~= nil and sync.status ~= nil then
      state = sync.status
    end
    hs.message = "Healthy but " .. state .. ": waiting for the sync to the target revision"
  end
end
return hs
