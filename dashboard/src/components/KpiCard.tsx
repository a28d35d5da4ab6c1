import Paper from '@mui/material/Paper';
import Typography from '@mui/material/Typography';
import { useTheme } from '@mui/material/styles';
import Sparkline from '../charts/Sparkline';
import { levelColor, type Level } from '../lib/health';

export interface KpiCardProps {
  label: string;
  value: string;
  sub?: string;
  /** The whole of `sub` (or more) on hover, when it is cut short. */
  subTitle?: string;
  level: Level;
  spark?: ArrayLike<number> | null;
  version: number;
  href: string;
  testId: string;
}

export default function KpiCard({ label, value, sub, subTitle, level, spark, version, href, testId }: KpiCardProps) {
  const theme = useTheme();
  const color = levelColor(level, theme.palette.mode);
  return (
    <Paper
      component="a"
      href={href}
      data-testid={testId}
      data-level={level}
      sx={{ p: 1.5, display: 'block', textDecoration: 'none', color: 'inherit', borderLeft: `4px solid ${color}`, '&:hover': { borderColor: color, bgcolor: 'action.hover' } }}
    >
      <Typography variant="caption" sx={{ textTransform: 'uppercase', letterSpacing: 0.6, opacity: 0.8 }}>
        {label}
      </Typography>
      <Typography data-testid={`${testId}-value`} sx={{ fontSize: 26, fontWeight: 650, lineHeight: 1.2, whiteSpace: 'nowrap', color: level === 'bad' || level === 'warn' ? color : 'inherit', fontVariantNumeric: 'tabular-nums' }}>
        {value}
      </Typography>
      <Typography variant="caption" component="div" title={subTitle} data-testid={`${testId}-sub`} sx={{ opacity: 0.75, minHeight: 18, whiteSpace: 'nowrap', overflow: 'hidden', textOverflow: 'ellipsis' }}>
        {sub ?? ' '}
      </Typography>
      <Sparkline values={spark ?? null} color={color} version={version} width={200} height={34} />
    </Paper>
  );
}
