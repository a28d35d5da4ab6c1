import { useMemo } from 'react';
import { ThemeProvider } from '@mui/material/styles';
import CssBaseline from '@mui/material/CssBaseline';
import AppBar from '@mui/material/AppBar';
import Toolbar from '@mui/material/Toolbar';
import Typography from '@mui/material/Typography';
import Tabs from '@mui/material/Tabs';
import Tab from '@mui/material/Tab';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Badge from '@mui/material/Badge';
import { useAppDispatch, useAppSelector } from './store';
import { uiActions } from './store/uiSlice';
import { makeTheme } from './theme';
import { useHandled, useHashRoute } from './hooks';
import { VIEWS, viewHash, type View } from './lib/route';
import { openCounts } from './lib/alertFeed';
import ConnectionStatus from './components/ConnectionStatus';
import { OperatorChip } from './components/OperatorName';
import ReconnectBanner from './components/ReconnectBanner';
import OverviewView from './views/OverviewView';
import SeriesView from './views/SeriesView';
import ContentView from './views/ContentView';
import ContentDetailView from './views/ContentDetailView';
import RegionsView from './views/RegionsView';
import AlertsView from './views/AlertsView';
import AnalyticsView from './views/AnalyticsView';

const TITLES: Record<View, string> = {
  overview: 'Overview',
  series: 'Time series',
  content: 'Content',
  regions: 'CDN regions',
  alerts: 'Alerts',
  analytics: 'Analytics',
};

function AlertsTabLabel() {
  const items = useAppSelector((s) => s.alerts.items);
  const handled = useHandled();
  // Firing alerts nobody acknowledged or silenced: anomaly points never make a badge.
  const { firing, critical } = useMemo(() => openCounts(items, handled), [items, handled]);
  return (
    <Badge color={critical ? 'error' : 'warning'} badgeContent={firing} max={99} data-testid="alerts-badge" data-firing={firing}>
      <span style={{ paddingRight: firing ? 10 : 0 }}>Alerts</span>
    </Badge>
  );
}

export default function App() {
  const mode = useAppSelector((s) => s.ui.theme);
  const dispatch = useAppDispatch();
  const theme = useMemo(() => makeTheme(mode), [mode]);
  const route = useHashRoute();

  let body;
  switch (route.view) {
    case 'series':
      body = <SeriesView filter={route.series} />;
      break;
    case 'content':
      body = route.contentId ? <ContentDetailView id={route.contentId} /> : <ContentView />;
      break;
    case 'regions':
      body = <RegionsView />;
      break;
    case 'alerts':
      body = <AlertsView regionFromUrl={route.alertRegion} alertFromUrl={route.alertId} />;
      break;
    case 'analytics':
      body = <AnalyticsView />;
      break;
    default:
      body = <OverviewView />;
  }

  return (
    <ThemeProvider theme={theme}>
      <CssBaseline />
      <AppBar position="sticky" color="default" elevation={0} sx={{ borderBottom: 1, borderColor: 'divider' }}>
        <Toolbar variant="dense" sx={{ gap: 2 }}>
          <Typography variant="h6" sx={{ fontWeight: 700, letterSpacing: 0.3 }}>
            streammon
          </Typography>
          <Tabs value={route.view} sx={{ flex: 1, minHeight: 40 }} textColor="inherit" indicatorColor="primary" variant="scrollable">
            {VIEWS.map((v) => (
              <Tab
                key={v}
                value={v}
                label={v === 'alerts' ? <AlertsTabLabel /> : TITLES[v]}
                href={viewHash(v)}
                component="a"
                data-testid={`nav-${v}`}
                sx={{ minHeight: 40, textTransform: 'none', fontSize: 14 }}
              />
            ))}
          </Tabs>
          <ConnectionStatus />
          <OperatorChip />
          <Button size="small" variant="outlined" color="inherit" onClick={() => dispatch(uiActions.toggleTheme())} data-testid="theme-toggle" aria-label="toggle theme">
            {mode === 'dark' ? 'Light' : 'Dark'}
          </Button>
        </Toolbar>
      </AppBar>
      <ReconnectBanner />
      <Box component="main" sx={{ p: 2, maxWidth: 1680, mx: 'auto' }} data-testid={`view-${route.view}`} data-theme={mode}>
        {body}
      </Box>
    </ThemeProvider>
  );
}
